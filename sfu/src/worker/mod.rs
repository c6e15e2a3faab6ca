//! A worker thread: one UDP socket, the peers of the rooms placed on it, and its event loop.
//!
//! The loop waits on the socket, the command channel and the earliest peer timeout; it feeds
//! datagrams to the peer they belong to (by ICE ufrag for STUN, by source address otherwise), drains
//! str0m after every input, forwards RTP to subscribers and flushes outgoing datagrams in batches.

mod fault;
mod forward;
mod io;
mod membership;
mod negotiation;
mod server_offer;
mod str0m_events;

pub use fault::Fault;
#[cfg(feature = "fuzzing")]
pub use io::bench_room::{Arrival, ListenerExchange};
#[cfg(feature = "bench-support")]
pub use io::bench_room::{BenchRoom, Datagram};

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mio::{Events, Interest, Poll, Token, Waker};
use str0m::config::DtlsCert;
use tokio::sync::mpsc::UnboundedSender;

use crate::config::SfuConfig;
use crate::dtls_failure::DtlsFailure;
use crate::error::SfuError;
use crate::events::{LeaveReason, PeerEvent};
use crate::ids::{PeerId, RoomId};
use crate::peer::{Drained, Peer};
use crate::policy::{Source, TrackDeclaration};
use crate::room::Room;
use crate::sfu::JoinRequest;
use crate::stats::WorkerStats;

const SOCKET: Token = Token(0);
const WAKER: Token = Token(1);
/// Housekeeping period: timeouts, speaking hold, gauges.
const HOUSEKEEPING: Duration = Duration::from_millis(100);
/// Datagrams read before timers and commands get a turn.
const READ_BUDGET: usize = 256;

/// Instructions from sessions to the worker that owns their peer.
pub enum Command {
    AddPeer {
        peer: PeerId,
        request: Box<JoinRequest>,
        events: UnboundedSender<PeerEvent>,
    },
    Offer {
        peer: PeerId,
        sdp: String,
        tracks: Vec<TrackDeclaration>,
    },
    Answer {
        peer: PeerId,
        sdp: String,
    },
    Candidate {
        peer: PeerId,
        candidate: String,
    },
    SetMuted {
        peer: PeerId,
        source: Source,
        muted: bool,
    },
    ServerMute {
        peer: PeerId,
        muted: bool,
    },
    Remove {
        peer: PeerId,
        reason: LeaveReason,
    },
    Shutdown,
}

/// The sessions' side of a worker.
pub struct WorkerHandle {
    tx: Sender<Command>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
    pub local_addr: SocketAddr,
    pub stats: Arc<WorkerStats>,
}

impl WorkerHandle {
    /// Binds the worker's socket and starts its thread.
    pub fn spawn(
        index: usize,
        bind: SocketAddr,
        config: &SfuConfig,
    ) -> Result<WorkerHandle, SfuError> {
        let mut socket = io::bind(bind)?;
        let local_addr = socket.local_addr()?;
        let advertised =
            SocketAddr::new(config.advertised_ip.unwrap_or(bind.ip()), local_addr.port());
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut socket, SOCKET, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (tx, rx) = crossbeam_channel::unbounded();
        let stats = Arc::new(WorkerStats::default());
        let cert = str0m::crypto::from_feature_flags()
            .dtls_provider
            .generate_certificate()
            .ok_or_else(|| SfuError::Config("cannot generate a DTLS certificate".into()))?;
        let worker = Worker {
            socket,
            poll,
            commands: rx,
            stats: stats.clone(),
            config: config.clone(),
            advertised,
            cert,
            peers: HashMap::new(),
            rooms: HashMap::new(),
            by_ufrag: HashMap::new(),
            by_addr: HashMap::new(),
            timers: BinaryHeap::new(),
            drained: Drained::default(),
            scratch_events: Vec::new(),
            sender: io::BatchSender::default(),
            forwarded_ingress: Vec::with_capacity(64),
            flush_after_fanout: true,
            running: true,
        };
        let thread = std::thread::Builder::new()
            .name(format!("sfu-worker-{index}"))
            .spawn(move || worker.run())?;
        tracing::info!(worker = index, %local_addr, %advertised, "sfu worker started");
        Ok(WorkerHandle {
            tx,
            waker,
            thread: Some(thread),
            local_addr,
            stats,
        })
    }

    /// Queues a command and wakes the worker.
    pub fn send(&self, command: Command) -> Result<(), SfuError> {
        self.tx.send(command).map_err(|_| SfuError::WorkerGone)?;
        self.waker.wake().map_err(|_| SfuError::WorkerGone)
    }

    /// Stops the thread and waits for it.
    pub fn stop(&mut self) {
        let _ = self.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Drains `peer` and schedules its next timeout. Returns false (and marks it failed) if it died.
fn drain_and_rearm(
    peer: &mut Peer,
    drained: &mut Drained,
    timers: &mut BinaryHeap<Reverse<(Instant, PeerId)>>,
) -> bool {
    let before = peer.next_timeout;
    if let Err(fault) = peer.drain(drained) {
        drained.failed.push((peer.id, fault));
        return false;
    }
    if let Some(t) = peer.next_timeout
        && before != Some(t)
    {
        timers.push(Reverse((t, peer.id)));
    }
    true
}

/// State owned by one worker thread.
pub struct Worker {
    socket: mio::net::UdpSocket,
    poll: Poll,
    commands: Receiver<Command>,
    stats: Arc<WorkerStats>,
    config: SfuConfig,
    advertised: SocketAddr,
    cert: DtlsCert,
    peers: HashMap<PeerId, Peer>,
    rooms: HashMap<RoomId, Room>,
    by_ufrag: HashMap<String, PeerId>,
    by_addr: HashMap<SocketAddr, PeerId>,
    timers: BinaryHeap<Reverse<(Instant, PeerId)>>,
    drained: Drained,
    scratch_events: Vec<(PeerId, str0m::Event)>,
    sender: io::BatchSender,
    /// When each packet forwarded since the last flush was read (for `forward_latency`).
    forwarded_ingress: Vec<Instant>,
    /// Send a packet's copies right after its fan-out (off only in the socketless benchmark).
    flush_after_fanout: bool,
    running: bool,
}

impl Worker {
    fn run(mut self) {
        let mut events = Events::with_capacity(64);
        let mut buf = vec![0u8; 2048];
        let mut next_housekeeping = Instant::now() + HOUSEKEEPING;
        let mut more_to_read = false;
        while self.running {
            let now = Instant::now();
            let deadline = self
                .next_deadline()
                .map_or(next_housekeeping, |t| t.min(next_housekeeping));
            let wait = if more_to_read {
                Duration::ZERO
            } else {
                deadline.saturating_duration_since(now)
            };
            if let Err(e) = self.poll.poll(&mut events, Some(wait))
                && e.kind() != std::io::ErrorKind::Interrupted
            {
                tracing::error!(error = %e, "sfu poll failed; worker stops");
                break;
            }
            let readable = more_to_read || events.iter().any(|e| e.token() == SOCKET);
            more_to_read = readable && self.read_datagrams(&mut buf);
            self.run_commands();
            let now = Instant::now();
            self.run_due_timers(now);
            if now >= next_housekeeping {
                self.housekeeping(now);
                next_housekeeping = now + HOUSEKEEPING;
            }
            self.flush();
        }
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        for id in ids {
            self.remove_peer(id, LeaveReason::Left);
        }
        self.flush();
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    fn run_commands(&mut self) {
        while let Ok(command) = self.commands.try_recv() {
            let now = Instant::now();
            match command {
                Command::AddPeer {
                    peer,
                    request,
                    events,
                } => self.add_peer(peer, *request, events, now),
                Command::Offer { peer, sdp, tracks } => self.client_offer(peer, &sdp, &tracks, now),
                Command::Answer { peer, sdp } => self.client_answer(peer, &sdp, now),
                Command::Candidate { peer, candidate } => {
                    self.remote_candidate(peer, &candidate, now)
                }
                Command::SetMuted {
                    peer,
                    source,
                    muted,
                } => self.set_muted(peer, source, muted),
                Command::ServerMute { peer, muted } => {
                    if let Some(p) = self.peers.get_mut(&peer) {
                        p.server_muted = muted;
                    }
                }
                Command::Remove { peer, reason } => self.remove_peer(peer, reason),
                Command::Shutdown => self.running = false,
            }
            self.process_drained(now);
        }
    }

    fn run_due_timers(&mut self, now: Instant) {
        while let Some(Reverse((t, id))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            let Some(peer) = self.peers.get_mut(&id) else {
                continue;
            };
            if peer.next_timeout != Some(t) {
                continue; // superseded by a later drain
            }
            peer.next_timeout = None;
            if let Err(e) = peer.rtc.handle_input(str0m::Input::Timeout(now)) {
                match DtlsFailure::classify(&e) {
                    Some(failure) => self.drained.failed.push((id, Fault::Dtls(failure))),
                    None => tracing::debug!(peer = %id, error = %e, "timeout input failed"),
                }
            }
            self.drain_peer(id);
            self.process_drained(now);
        }
    }

    /// Drains one peer into `self.drained` and re-arms its timer.
    fn drain_peer(&mut self, id: PeerId) {
        if let Some(peer) = self.peers.get_mut(&id) {
            drain_and_rearm(peer, &mut self.drained, &mut self.timers);
        }
    }

    fn housekeeping(&mut self, now: Instant) {
        for (id, fault) in self.overdue_peers(now) {
            self.fail_peer(id, fault);
        }
        self.negotiation_housekeeping(now);
        self.tick_speaking(now);
        WorkerStats::set(&self.stats.peers, self.peers.len() as u64);
        WorkerStats::set(&self.stats.rooms, self.rooms.len() as u64);
        // Stale timer entries of removed or re-armed peers would otherwise pile up under load.
        if self.timers.len() > 4 * self.peers.len() + 1024 {
            let live: Vec<_> = self
                .peers
                .values()
                .filter_map(|p| p.next_timeout.map(|t| Reverse((t, p.id))))
                .collect();
            self.timers = BinaryHeap::from(live);
        }
    }
}
