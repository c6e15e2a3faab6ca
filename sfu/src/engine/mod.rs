//! The media engine: every peer of the rooms placed on one worker, in the sans-IO shape of str0m.
//!
//! The engine owns no socket, no clock, no thread and no channel. Time enters only through
//! [`Input`]; datagrams to send and the next instant it wants to be woken at leave only through
//! [`Output`]. The runtime (`crate::runtime`) owns the socket, the clock and the command channel.
//!
//! The engine does no room work beyond forwarding: it reports who joined, left, published and
//! speaks as [`EngineEvent`]s (speaking batched per housekeeping interval), and the rooms layer
//! (`crate::rooms`) keeps the roster and tells the sessions.
//!
//! **Usage rule** (as str0m's): after every [`Engine::handle_input`], call [`Engine::poll_output`]
//! until it returns [`Output::Timeout`]. An input given while output is still pending is refused
//! with [`NotDrained`] and changes nothing, so a runtime that forgets to drain finds out at once.
//!
//! Inside, a datagram goes to the peer it belongs to (by ICE ufrag for STUN, by source address
//! otherwise), str0m is drained after every input, RTP is forwarded to subscribers, and what str0m
//! asks to send is queued for [`Engine::poll_output`], with the events.

mod allocate;
#[cfg(feature = "bench-support")]
mod bench_room;
mod bitrate_caps;
mod dynacast;
mod event;
mod fault;
mod forward;
mod keyframes;
mod layers;
mod membership;
mod negotiation;
mod server_offer;
mod str0m_events;

#[cfg(feature = "fuzzing")]
pub use bench_room::{Arrival, ListenerExchange};
#[cfg(feature = "bench-support")]
pub use bench_room::{BenchRoom, Datagram};
pub(crate) use dynacast::Dynacast;
pub use event::{EngineEvent, SpeakerChange};
pub(crate) use fault::Fault;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::SfuConfig;
use crate::dtls_failure::DtlsFailure;
use crate::events::LeaveReason;
use crate::ids::{PeerId, RoomId};
use crate::peer::{Drained, Peer, TrackKey};
use crate::policy::{Grants, TrackDeclaration};
use crate::room::{InTrack, Room};
use crate::sfu::JoinRequest;
use crate::simulcast::TrackView;
use crate::stats::WorkerStats;
use event::EventQueue;
use str0m::config::DtlsCert;
use str0m::net::Transmit;

/// Housekeeping period: timeouts, speaking hold and speaker batches, gauges.
const HOUSEKEEPING: Duration = Duration::from_millis(100);

/// Instructions from sessions (and the rooms layer) to the engine that owns their peer.
pub enum Command {
    /// A peer joins: the engine reports [`EngineEvent::PeerJoined`], or a fatal error for it.
    AddPeer {
        peer: PeerId,
        request: Box<JoinRequest>,
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
    /// Moderation: forward nothing this peer publishes (or forward again).
    ServerMute {
        peer: PeerId,
        muted: bool,
    },
    /// What the peer may publish from now on: tracks of sources it lost end at once, and its
    /// session is told ([`crate::PeerEvent::GrantsChanged`]).
    SetGrants {
        peer: PeerId,
        grants: Grants,
    },
    Remove {
        peer: PeerId,
        reason: LeaveReason,
    },
    /// How subscriber `peer` shows track `track_id`, which decides the simulcast layer it
    /// receives (it switches on that layer's keyframe). An unknown track gets `unknown_track`.
    SetTrackView {
        peer: PeerId,
        track_id: String,
        view: TrackView,
    },
    /// Every peer leaves (`left`); the runtime stops after it.
    Shutdown,
}

/// What the engine is given. Every input carries the time it happened at.
pub enum Input<'a> {
    /// A datagram arrived on the engine's media address.
    Receive {
        at: Instant,
        source: SocketAddr,
        contents: &'a [u8],
    },
    /// A command from a session.
    Command { at: Instant, command: Command },
    /// Time passed: due timers and housekeeping run.
    Timeout(Instant),
    /// Every datagram polled so far left at this instant (the forwarding latency is measured
    /// from a packet's arrival to this).
    Sent(Instant),
}

/// What the engine asks for.
#[derive(Debug)]
pub enum Output {
    /// Send this datagram.
    Transmit(Transmit),
    /// Hand this to the rooms layer.
    Event(EngineEvent),
    /// Nothing more to do until this instant (or the next datagram or command): give
    /// [`Input::Timeout`] then.
    Timeout(Instant),
}

/// An input given before the output of the previous one was drained (see the usage rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotDrained;

impl std::fmt::Display for NotDrained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("engine input before its output was drained (poll_output until Timeout)")
    }
}

impl std::error::Error for NotDrained {}

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

/// The peers and rooms of one worker (see the module docs for the usage rule).
pub struct Engine {
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
    /// Video tracks a new route was opened to: their publishers are asked for a keyframe.
    keyframes_wanted: Vec<TrackKey>,
    /// Datagrams waiting for [`Engine::poll_output`].
    out: VecDeque<Transmit>,
    /// Events waiting for [`Engine::poll_output`].
    events: EventQueue,
    /// When each packet forwarded since the last [`Input::Sent`] arrived.
    forwarded_ingress: Vec<Instant>,
    /// When housekeeping runs next.
    next_housekeeping: Instant,
    /// When layers were last measured and allocated, and when next.
    last_allocation: Instant,
    next_allocation: Instant,
}

impl Engine {
    /// An engine with no peers, created at `now`. `advertised` is the media address peers are
    /// told to use (the destination of every datagram it is given); `stats` is shared with
    /// whoever reads them.
    pub fn new(
        config: &SfuConfig,
        advertised: SocketAddr,
        cert: DtlsCert,
        stats: Arc<WorkerStats>,
        now: Instant,
    ) -> Engine {
        Engine {
            stats,
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
            keyframes_wanted: Vec::new(),
            out: VecDeque::new(),
            events: EventQueue::default(),
            forwarded_ingress: Vec::with_capacity(64),
            next_housekeeping: now + HOUSEKEEPING,
            last_allocation: now,
            next_allocation: now + allocate::ALLOCATION_INTERVAL,
        }
    }

    /// The engine's counters.
    pub fn stats(&self) -> &Arc<WorkerStats> {
        &self.stats
    }

    /// Takes one input. Refused (and ignored) while output of an earlier input is undrained.
    pub fn handle_input(&mut self, input: Input<'_>) -> Result<(), NotDrained> {
        let pending = !self.out.is_empty() || !self.events.is_empty();
        if pending && !matches!(input, Input::Sent(_)) {
            return Err(NotDrained);
        }
        match input {
            Input::Receive {
                at,
                source,
                contents,
            } => {
                self.on_datagram(contents, source, at);
                self.process_drained(at);
            }
            Input::Command { at, command } => {
                self.run_command(command, at);
                self.process_drained(at);
            }
            Input::Timeout(now) => {
                self.run_due_timers(now);
                if now >= self.next_housekeeping {
                    self.housekeeping(now);
                    self.next_housekeeping = now + HOUSEKEEPING;
                }
                self.process_drained(now);
            }
            Input::Sent(at) => {
                for read_at in self.forwarded_ingress.drain(..) {
                    self.stats
                        .forward_latency
                        .observe(at.saturating_duration_since(read_at));
                }
            }
        }
        Ok(())
    }

    /// The next datagram to send, then the next event, or (once none is left) when to give
    /// [`Input::Timeout`].
    pub fn poll_output(&mut self) -> Output {
        if let Some(t) = self.out.pop_front() {
            return Output::Transmit(t);
        }
        if let Some(e) = self.events.pop() {
            return Output::Event(e);
        }
        let timer = self.timers.peek().map(|Reverse((t, _))| *t);
        Output::Timeout(timer.map_or(self.next_housekeeping, |t| t.min(self.next_housekeeping)))
    }

    fn run_command(&mut self, command: Command, now: Instant) {
        match command {
            Command::AddPeer { peer, request } => self.add_peer(peer, *request, now),
            Command::Offer { peer, sdp, tracks } => self.client_offer(peer, &sdp, &tracks, now),
            Command::Answer { peer, sdp } => self.client_answer(peer, &sdp, now),
            Command::Candidate { peer, candidate } => self.remote_candidate(peer, &candidate, now),
            Command::ServerMute { peer, muted } => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.server_muted = muted;
                }
            }
            Command::SetGrants { peer, grants } => self.set_grants(peer, grants),
            Command::Remove { peer, reason } => self.remove_peer(peer, reason),
            Command::SetTrackView {
                peer,
                track_id,
                view,
            } => self.set_track_view(peer, &track_id, view, now),
            Command::Shutdown => {
                let ids: Vec<PeerId> = self.peers.keys().copied().collect();
                for id in ids {
                    self.remove_peer(id, LeaveReason::Left);
                }
            }
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
    /// The published track `key`.
    fn track(&self, key: &TrackKey) -> Option<&InTrack> {
        let room = self.rooms.get(&self.peers.get(&key.publisher)?.room)?;
        room.tracks.get(key)
    }

    /// The published track `key`, to change.
    fn track_mut(&mut self, key: &TrackKey) -> Option<&mut InTrack> {
        let room = self.rooms.get_mut(&self.peers.get(&key.publisher)?.room)?;
        room.tracks.get_mut(key)
    }

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
        self.flush_speakers();
        self.send_held_keyframe_requests(now);
        self.send_bitrate_caps(now);
        if now >= self.next_allocation {
            let elapsed = now.saturating_duration_since(self.last_allocation);
            self.measure_layers(elapsed);
            self.allocate_layers(now);
            self.update_dynacast(now);
            self.last_allocation = now;
            self.next_allocation = now + allocate::ALLOCATION_INTERVAL;
        }
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

#[cfg(test)]
mod tests {
    use str0m::net::Protocol;

    use super::*;

    fn engine(now: Instant) -> Engine {
        let cert = str0m::crypto::from_feature_flags()
            .dtls_provider
            .generate_certificate()
            .expect("certificate");
        let addr = SocketAddr::from(([127, 0, 0, 1], 7882));
        let stats = Arc::new(WorkerStats::default());
        Engine::new(&SfuConfig::default(), addr, cert, stats, now)
    }

    #[test]
    fn an_undrained_engine_refuses_input_until_polled() {
        let now = Instant::now();
        let mut e = engine(now);
        assert!(matches!(e.poll_output(), Output::Timeout(t) if t == now + HOUSEKEEPING));
        e.out.push_back(Transmit {
            proto: Protocol::Udp,
            source: e.advertised,
            destination: SocketAddr::from(([127, 0, 0, 1], 40_000)),
            contents: vec![1, 2, 3].into(),
        });
        assert_eq!(e.handle_input(Input::Timeout(now)), Err(NotDrained));
        assert_eq!(
            e.handle_input(Input::Sent(now)),
            Ok(()),
            "Sent is always taken"
        );
        assert!(matches!(e.poll_output(), Output::Transmit(_)));
        assert!(matches!(e.poll_output(), Output::Timeout(_)));
        assert_eq!(e.handle_input(Input::Timeout(now)), Ok(()));
    }

    #[test]
    fn time_is_only_an_input() {
        let start = Instant::now();
        let mut e = engine(start);
        // An hour of fake time passes in a loop of timeouts, housekeeping every 100 ms of it.
        let mut now = start;
        let mut wakeups = 0;
        while now < start + Duration::from_secs(3600) {
            let Output::Timeout(next) = e.poll_output() else {
                panic!("nothing to send in an empty engine");
            };
            assert!(next > now, "the next timeout is in the future");
            now = next;
            e.handle_input(Input::Timeout(now)).expect("drained");
            wakeups += 1;
        }
        assert_eq!(wakeups, 36_000);
    }
}
