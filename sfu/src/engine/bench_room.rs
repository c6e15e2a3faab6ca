//! An in-memory room for benchmarking the forwarding hot path (feature `bench-support`).
//!
//! One [`Engine`] with a publisher and N subscribers, each a str0m client. Everything is connected
//! in memory on a fake clock through the engine's own inputs and outputs, as the runtime drives
//! it: datagrams go from client to engine as [`Input::Receive`], commands as [`Input::Command`],
//! and what [`Engine::poll_output`] yields is handed back to the clients by destination address.
//! No threads, no sleeps, no socket.
//!
//! Once connected, [`BenchRoom::prepare`] makes the publisher produce encrypted packets (outside
//! any measurement) and [`BenchRoom::forward`] pushes one through the engine: SRTP decrypt
//! once, then per subscriber rewrite + SRTP encrypt + queue. The queued datagrams are dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::collections::HashMap;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive, Transmit};
use str0m::{Candidate, Input, Output, Rtc};

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::{Command, Engine, EngineEvent};
use crate::config::SfuConfig;
use crate::error::SfuError;
use crate::events::PeerEvent;
use crate::ids::{ParticipantInfo, PeerId, RoomId};
use crate::policy::{Grants, RoomKind, RoomPolicy, Source, TrackDeclaration};
use crate::sfu::JoinRequest;
use crate::stats::WorkerStats;

#[cfg(feature = "fuzzing")]
mod fuzzing;
#[cfg(feature = "fuzzing")]
pub use fuzzing::{Arrival, ListenerExchange};

/// A 20 ms Opus frame's worth of bytes (content is irrelevant to forwarding).
const FRAME: [u8; 80] = [0x5a; 80];
/// Fake time one connection step advances.
const STEP: Duration = Duration::from_millis(5);
/// Fake time budget to connect everyone.
const CONNECT_BUDGET: Duration = Duration::from_secs(30);

struct Client {
    peer: PeerId,
    addr: SocketAddr,
    rtc: Rtc,
    events: UnboundedReceiver<PeerEvent>,
    pending: Option<SdpPendingOffer>,
    send_mid: Option<Mid>,
    next_timeout: Instant,
}

/// One datagram from the publisher to the engine.
pub struct Datagram {
    source: SocketAddr,
    contents: Vec<u8>,
}

/// Where the engine's events for each peer go (the rooms layer's job in the process; here only
/// each peer's own events matter).
type Mailboxes = HashMap<PeerId, UnboundedSender<PeerEvent>>;

/// An engine, one publisher and N subscribers, connected in memory.
pub struct BenchRoom {
    engine: Engine,
    mailboxes: Mailboxes,
    server_addr: SocketAddr,
    publisher: Client,
    subscribers: Vec<Client>,
    now: Instant,
    frames: u64,
}

impl BenchRoom {
    /// Builds the room and connects everyone (ICE, DTLS, negotiation) on a fake clock.
    pub fn new(subscribers: usize) -> Result<BenchRoom, SfuError> {
        str0m::crypto::from_feature_flags().install_process_default();
        let now = Instant::now();
        let engine = bench_engine(now)?;
        let server_addr = engine.advertised;
        let mut room = BenchRoom {
            engine,
            mailboxes: Mailboxes::new(),
            server_addr,
            publisher: Client::new(0, now),
            subscribers: (1..=subscribers).map(|i| Client::new(i, now)).collect(),
            now,
            frames: 0,
        };
        room.join(0, true);
        for i in 0..subscribers {
            room.join(i + 1, false);
        }
        let deadline = room.now + CONNECT_BUDGET;
        while !room.all_routed() {
            if room.now > deadline {
                return Err(SfuError::Config("bench room did not connect".into()));
            }
            room.step(true);
        }
        Ok(room)
    }

    /// Subscribers in the room.
    pub fn subscribers(&self) -> usize {
        self.subscribers.len()
    }

    /// Packets the engine has forwarded so far (its own counter).
    pub fn forwarded(&self) -> u64 {
        self.engine
            .stats
            .packets_forwarded
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Has the publisher encrypt `n` consecutive 20 ms frames (not part of the hot path).
    pub fn prepare(&mut self, n: usize) -> Vec<Datagram> {
        let mut out = Vec::with_capacity(n);
        let Some(mid) = self.publisher.send_mid else {
            return out;
        };
        for _ in 0..n {
            self.frames += 1;
            let Some(writer) = self.publisher.rtc.writer(mid) else {
                break;
            };
            let Some(pt) = writer.payload_params().next().map(|p| p.pt()) else {
                break;
            };
            let t = MediaTime::new(self.frames * 960, Frequency::FORTY_EIGHT_KHZ);
            if writer.write(pt, self.now, t, FRAME.to_vec()).is_err() {
                break;
            }
            let _ = self.publisher.rtc.handle_input(Input::Timeout(self.now));
            while let Ok(output) = self.publisher.rtc.poll_output() {
                match output {
                    Output::Transmit(t) if t.destination == self.server_addr => {
                        out.push(Datagram {
                            source: self.publisher.addr,
                            contents: t.contents.to_vec(),
                        });
                    }
                    Output::Timeout(_) => break,
                    _ => {}
                }
            }
        }
        out
    }

    /// The hot path: one publisher datagram in, one encrypted copy per subscriber out (and
    /// dropped). Returns the number of datagrams the engine put out.
    pub fn forward(&mut self, datagram: &Datagram) -> usize {
        // 20 us of fake time per packet keeps every timer far away during a benchmark.
        self.now += Duration::from_micros(20);
        let now = self.now;
        let _ = self.engine.handle_input(super::Input::Receive {
            at: now,
            source: datagram.source,
            contents: &datagram.contents,
        });
        // Counted and dropped as they come: the runtime's send batch is not part of the path.
        let mut n = 0;
        loop {
            match self.engine.poll_output() {
                super::Output::Transmit(_) => n += 1,
                super::Output::Event(_) => {}
                super::Output::Timeout(_) => break,
            }
        }
        let _ = self.engine.handle_input(super::Input::Sent(now));
        n
    }

    /// Gives the engine one input and drains its output (the usage rule).
    fn give(&mut self, input: super::Input<'_>) -> Vec<Transmit> {
        give(&mut self.engine, &self.mailboxes, input)
    }

    fn join(&mut self, index: usize, publishes: bool) {
        let now = self.now;
        let (tx, rx) = unbounded_channel();
        let client = if index == 0 {
            &mut self.publisher
        } else {
            &mut self.subscribers[index - 1]
        };
        client.events = rx;
        self.mailboxes.insert(client.peer, tx);
        let request = JoinRequest {
            room: RoomId("bench".into()),
            policy: RoomPolicy {
                max_participants: usize::MAX,
                ..RoomPolicy::for_kind(RoomKind::Voice)
            },
            participant: ParticipantInfo {
                participant_id: format!("p_{index}"),
                user_id: format!("u{index}"),
                device_id: "bench".into(),
            },
            grants: Grants {
                microphone: publishes,
                ..Grants::default()
            },
        };
        give(
            &mut self.engine,
            &self.mailboxes,
            super::Input::Command {
                at: now,
                command: Command::AddPeer {
                    peer: client.peer,
                    request: Box::new(request),
                },
            },
        );
        let direction = if publishes {
            Direction::SendOnly
        } else {
            Direction::RecvOnly
        };
        let mut api = client.rtc.sdp_api();
        let mid = api.add_media(MediaKind::Audio, direction, None, None, None);
        let Some((offer, pending)) = api.apply() else {
            return;
        };
        client.pending = Some(pending);
        if publishes {
            client.send_mid = Some(mid);
        }
        let tracks = if publishes {
            vec![TrackDeclaration {
                mid: mid.to_string(),
                source: Source::Microphone,
            }]
        } else {
            Vec::new()
        };
        let peer = client.peer;
        self.give(super::Input::Command {
            at: now,
            command: Command::Offer {
                peer,
                sdp: offer.to_sdp_string(),
                tracks,
            },
        });
    }

    /// Whether every subscriber has an open route from the publisher's track.
    fn all_routed(&self) -> bool {
        let routes: usize = self
            .engine
            .rooms
            .values()
            .flat_map(|r| r.tracks.values())
            .map(|t| t.routes.len())
            .sum();
        let connected = self.engine.peers.values().filter(|p| p.connected).count();
        routes == self.subscribers.len() && connected == self.subscribers.len() + 1
    }

    /// One step of the in-memory network: signaling events, datagrams both ways, timers.
    /// Returns the datagrams the clients sent the engine.
    fn step(&mut self, advance: bool) -> Vec<Datagram> {
        if advance {
            self.now += STEP;
        }
        let now = self.now;
        let mut to_engine: Vec<Datagram> = Vec::new();
        let mut queued = Vec::new();
        for client in std::iter::once(&mut self.publisher).chain(self.subscribers.iter_mut()) {
            queued.extend(client.signal(&mut self.engine, &self.mailboxes, now));
            to_engine.extend(client.poll(now, self.server_addr));
        }
        for d in &to_engine {
            queued.extend(give(
                &mut self.engine,
                &self.mailboxes,
                super::Input::Receive {
                    at: now,
                    source: d.source,
                    contents: &d.contents,
                },
            ));
        }
        queued.extend(give(
            &mut self.engine,
            &self.mailboxes,
            super::Input::Timeout(now),
        ));
        for t in queued {
            let target = std::iter::once(&mut self.publisher)
                .chain(self.subscribers.iter_mut())
                .find(|c| c.addr == t.destination);
            if let Some(client) = target
                && let Ok(r) = Receive::new(Protocol::Udp, t.source, t.destination, &t.contents)
            {
                let _ = client.rtc.handle_input(Input::Receive(now, r));
            }
        }
        to_engine
    }
}

/// Gives `engine` one input and drains its output (the usage rule): returns the datagrams, and
/// posts each peer's own events to its mailbox.
fn give(engine: &mut Engine, mailboxes: &Mailboxes, input: super::Input<'_>) -> Vec<Transmit> {
    let _ = engine.handle_input(input);
    let mut out = Vec::new();
    loop {
        match engine.poll_output() {
            super::Output::Transmit(t) => out.push(t),
            super::Output::Event(EngineEvent::ToPeer { peer, event }) => {
                if let Some(mailbox) = mailboxes.get(&peer) {
                    let _ = mailbox.send(event);
                }
            }
            super::Output::Event(_) => {}
            super::Output::Timeout(_) => return out,
        }
    }
}

impl Client {
    fn new(index: usize, now: Instant) -> Client {
        let addr = SocketAddr::from(([10, 0, (index >> 8) as u8, index as u8], 40_000));
        let mut rtc = Rtc::builder().build(now);
        if let Ok(c) = Candidate::host(addr, "udp") {
            rtc.add_local_candidate(c);
        }
        let (_, events) = unbounded_channel();
        Client {
            peer: PeerId(index as u64 + 1),
            addr,
            rtc,
            events,
            pending: None,
            send_mid: None,
            next_timeout: now,
        }
    }

    /// Applies what the engine said to this client (answers, offers); returns what the engine
    /// sent meanwhile.
    fn signal(
        &mut self,
        engine: &mut Engine,
        mailboxes: &Mailboxes,
        now: Instant,
    ) -> Vec<Transmit> {
        let mut sent = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            match event {
                PeerEvent::Answer { sdp } => {
                    if let (Some(p), Ok(answer)) =
                        (self.pending.take(), SdpAnswer::from_sdp_string(&sdp))
                    {
                        let _ = self.rtc.sdp_api().accept_answer(p, answer);
                    }
                }
                PeerEvent::Offer { sdp } => {
                    let Ok(offer) = SdpOffer::from_sdp_string(&sdp) else {
                        continue;
                    };
                    if let Ok(answer) = self.rtc.sdp_api().accept_offer(offer) {
                        sent.extend(give(
                            engine,
                            mailboxes,
                            super::Input::Command {
                                at: now,
                                command: Command::Answer {
                                    peer: self.peer,
                                    sdp: answer.to_sdp_string(),
                                },
                            },
                        ));
                    }
                }
                _ => {}
            }
        }
        sent
    }

    /// Runs due timers and collects datagrams for the engine.
    fn poll(&mut self, now: Instant, server: SocketAddr) -> Vec<Datagram> {
        if now >= self.next_timeout {
            let _ = self.rtc.handle_input(Input::Timeout(now));
        }
        let mut out = Vec::new();
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.next_timeout = t;
                    break;
                }
                Ok(Output::Transmit(t)) if t.destination == server => out.push(Datagram {
                    source: self.addr,
                    contents: t.contents.to_vec(),
                }),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        out
    }
}

/// An engine with no runtime: its media address is only a name for the clients.
fn bench_engine(now: Instant) -> Result<Engine, SfuError> {
    let config = SfuConfig::default();
    let advertised = SocketAddr::new(config.bind_ip, 7882);
    let cert = str0m::crypto::from_feature_flags()
        .dtls_provider
        .generate_certificate()
        .ok_or_else(|| SfuError::Config("cannot generate a DTLS certificate".into()))?;
    Ok(Engine::new(
        &config,
        advertised,
        cert,
        Arc::new(WorkerStats::default()),
        now,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_one_copy_per_subscriber() {
        let mut room = BenchRoom::new(5).expect("room connects in memory");
        let datagrams = room.prepare(10);
        assert_eq!(datagrams.len(), 10);
        let before = room.forwarded();
        let queued: usize = datagrams.iter().map(|d| room.forward(d)).sum();
        assert_eq!(room.forwarded() - before, 50);
        assert!(queued >= 50, "queued {queued}");
    }
}
