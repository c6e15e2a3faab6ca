//! The sfu engine and N str0m clients in memory, on a fake clock, over an emulated network.
//!
//! No socket, no thread, no sleep: [`World::run_for`] jumps from one due event (a datagram landing,
//! an engine or client timeout) to the next, so thirty seconds of a call take milliseconds. Every
//! client has an uplink (client to sfu) and a downlink (sfu to client), each a [`Link`] with loss,
//! delay, jitter and a bandwidth limit; jitter reorders packets as a real path does. All randomness
//! comes from one seeded generator: the same seed gives the same run.
//!
//! Signaling (offers, answers, the engine's events) is reliable and instant: clients answer server
//! offers as they come, as the real-UDP harness's clients do. The engine's events go through the
//! rooms layer ([`sfu::rooms::Rooms`]) as in the process, so clients see the roster events too.

#![allow(dead_code)]

use std::collections::{BinaryHeap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sfu::engine::{Command, Engine, Input as EngineInput, Output as EngineOutput};
use sfu::rooms::{CommandSink, Rooms};
use sfu::{
    Grants, JoinRequest, ParticipantInfo, PeerEvent, PeerId, RoomId, RoomKind, RoomPolicy,
    SfuConfig, StatsSnapshot, TrackDeclaration, WorkerStats,
};
use str0m::bwe::BweKind;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{
    Direction, KeyframeRequest, MediaData, MediaKind, MediaTime, Mid, Rid, Simulcast,
    SimulcastLayer,
};
use str0m::net::{Protocol, Receive};
use str0m::rtp::RtpPacket;
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use tokio::sync::mpsc::UnboundedReceiver;

/// The sfu's media address in the emulated network.
pub const SFU_ADDR: ([u8; 4], u16) = ([10, 0, 0, 1], 7882);

/// One direction of a client's path.
#[derive(Clone, Copy, Debug, Default)]
pub struct Link {
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// One-way delay.
    pub delay: Duration,
    /// Extra delay, uniform in `0..=jitter`, per datagram.
    pub jitter: Duration,
    /// Bits per second the link carries (`None`: unlimited); datagrams queue behind each other.
    pub bandwidth_bps: Option<u64>,
}

impl Link {
    /// A perfect link: no loss, 1 ms delay.
    pub fn clean() -> Link {
        Link {
            delay: Duration::from_millis(1),
            ..Link::default()
        }
    }
}

/// A datagram in flight.
#[derive(PartialEq, Eq)]
struct Flight {
    at: Instant,
    /// Order of sending: ties on `at` land in sending order.
    seq: u64,
    /// `None`: to the sfu; `Some(i)`: to client `i`.
    to: Option<usize>,
    from: SocketAddr,
    contents: Vec<u8>,
}

impl Ord for Flight {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // BinaryHeap is a max-heap: the earliest landing first.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl PartialOrd for Flight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// One RTP packet a test writes whole ([`World::send_camera_rtp`]).
pub struct CameraRtp {
    pub codec: str0m::format::Codec,
    /// The simulcast layer (`None`: no simulcast).
    pub rid: Option<&'static str>,
    pub seq: u64,
    pub ts: u32,
    pub marker: bool,
    pub payload: Vec<u8>,
}

/// What a client joins with ([`World::join_client`]).
pub struct ClientSpec {
    pub name: String,
    pub room: String,
    pub kind: RoomKind,
    /// Publishes a microphone track (otherwise its audio m-line only receives).
    pub microphone: bool,
    /// Publishes a camera track (video rooms).
    pub camera: bool,
    /// Publishes a screenshare track (video rooms).
    pub screenshare: bool,
    pub up: Link,
    pub down: Link,
    /// str0m's RTP mode (received packets kept whole in [`MemClient::rtp`]).
    pub rtp_mode: bool,
    /// The client's own configuration: its codecs and their payload types.
    pub config: RtcConfig,
    /// Its ticket's grants (default: what it publishes).
    pub grants: Option<Grants>,
    /// The rids of its camera's simulcast layers (empty: no simulcast).
    pub simulcast: Vec<&'static str>,
}

impl ClientSpec {
    /// A receive-only client on clean links with str0m's default codecs.
    pub fn new(name: &str, room: &str, kind: RoomKind) -> ClientSpec {
        ClientSpec {
            name: name.into(),
            room: room.into(),
            kind,
            microphone: false,
            camera: false,
            screenshare: false,
            up: Link::clean(),
            down: Link::clean(),
            rtp_mode: false,
            config: RtcConfig::new(),
            grants: None,
            simulcast: Vec::new(),
        }
    }
}

/// One emulated client: a str0m peer, its links, and what it saw.
pub struct MemClient {
    pub name: String,
    pub peer: PeerId,
    pub addr: SocketAddr,
    pub rtc: Rtc,
    pub up: Link,
    pub down: Link,
    /// When its uplink and downlink are free again (bandwidth limit).
    up_free: Instant,
    down_free: Instant,
    events_rx: UnboundedReceiver<PeerEvent>,
    pending: Option<SdpPendingOffer>,
    next_timeout: Instant,
    /// Every event the engine sent it.
    pub events: Vec<PeerEvent>,
    /// Media frames it received.
    pub media: Vec<MediaData>,
    /// RTP packets it received (str0m's RTP mode is off: these are from `Event::RtpPacket` when
    /// the client was built with [`World::join_rtp`]).
    pub rtp: Vec<RtpPacket>,
    pub connected: bool,
    pub send_mid: Option<Mid>,
    /// The m-line of its camera track, when it publishes one.
    pub camera_mid: Option<Mid>,
    /// Keyframe requests (PLI, FIR) the sfu sent it, as a publisher.
    pub keyframe_requests: Vec<KeyframeRequest>,
    /// Bitrate caps (REMB, bits per second) the sfu sent it, by its m-line.
    pub remb: Vec<(Mid, u64)>,
    /// Stops every output of this client (it vanished without a word).
    pub silent: bool,
    /// SDP of every offer it was sent.
    pub offers: Vec<String>,
    /// Answer the server's offers as they come (off: they stay unanswered).
    pub answer_offers: bool,
}

impl MemClient {
    /// Whether the engine ever sent this client an event `pred` accepts.
    pub fn saw(&self, pred: impl Fn(&PeerEvent) -> bool) -> bool {
        self.events.iter().any(pred)
    }

    /// The fatal error code it got, if any.
    pub fn fatal(&self) -> Option<sfu::ErrorCode> {
        self.events.iter().find_map(|e| match e {
            PeerEvent::Error {
                code, fatal: true, ..
            } => Some(*code),
            _ => None,
        })
    }
}

/// The rooms layer's commands for the one engine, given to it by [`World::pump`].
#[derive(Clone, Default)]
struct Queue(Arc<Mutex<VecDeque<Command>>>);

impl CommandSink for Queue {
    fn send(&self, command: Command) -> Result<(), sfu::SfuError> {
        self.0.lock().expect("queue").push_back(command);
        Ok(())
    }
}

/// The engine, its clients, the network between them, and the fake clock.
pub struct World {
    pub now: Instant,
    pub engine: Engine,
    /// The rooms layer above the engine (commands it issues reach the engine on [`World::pump`]).
    pub rooms: Rooms,
    commands: Queue,
    pub clients: Vec<MemClient>,
    stats: Arc<WorkerStats>,
    flights: BinaryHeap<Flight>,
    next_seq: u64,
    next_engine_timeout: Instant,
    rng: StdRng,
    sfu_addr: SocketAddr,
}

impl World {
    /// An engine with `config` and no clients; `seed` drives every random choice of the network.
    pub fn new(config: SfuConfig, seed: u64) -> World {
        str0m::crypto::from_feature_flags().install_process_default();
        let now = Instant::now();
        let cert = str0m::crypto::from_feature_flags()
            .dtls_provider
            .generate_certificate()
            .expect("certificate");
        let stats = Arc::new(WorkerStats::default());
        let sfu_addr = SocketAddr::from(SFU_ADDR);
        let engine = Engine::new(&config, sfu_addr, cert, stats.clone(), now);
        let commands = Queue::default();
        World {
            now,
            engine,
            rooms: Rooms::new(vec![Box::new(commands.clone())]),
            commands,
            clients: Vec::new(),
            stats,
            flights: BinaryHeap::new(),
            next_seq: 0,
            next_engine_timeout: now,
            rng: StdRng::seed_from_u64(seed),
            sfu_addr,
        }
    }

    /// The engine's counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// A client joins `room` (of `kind`) with `grants` and offers one audio m-line: sending
    /// (`publish`) or receiving only. Returns its index.
    pub fn join(&mut self, name: &str, room: &str, kind: RoomKind, publish: bool) -> usize {
        self.join_with(
            name,
            room,
            kind,
            publish,
            Link::clean(),
            Link::clean(),
            false,
        )
    }

    /// [`World::join`] with links, and with str0m's RTP mode on (`rtp_mode`: received packets are
    /// kept whole in [`MemClient::rtp`], with their sequence numbers).
    #[allow(clippy::too_many_arguments)]
    pub fn join_with(
        &mut self,
        name: &str,
        room: &str,
        kind: RoomKind,
        publish: bool,
        up: Link,
        down: Link,
        rtp_mode: bool,
    ) -> usize {
        self.join_client(ClientSpec {
            microphone: publish,
            up,
            down,
            rtp_mode,
            ..ClientSpec::new(name, room, kind)
        })
    }

    /// A client joins as `spec` says. Returns its index.
    pub fn join_client(&mut self, spec: ClientSpec) -> usize {
        let index = self.clients.len();
        let addr = SocketAddr::from(([10, 1, (index >> 8) as u8, index as u8], 40_000));
        let mut rtc = spec.config.set_rtp_mode(spec.rtp_mode).build(self.now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
        let request = JoinRequest {
            room: RoomId(spec.room.clone()),
            policy: RoomPolicy::for_kind(spec.kind),
            participant: ParticipantInfo {
                participant_id: format!("p_{}", spec.name),
                user_id: spec.name.clone(),
                device_id: "mem".into(),
            },
            grants: spec.grants.unwrap_or(Grants {
                microphone: spec.microphone,
                camera: spec.camera,
                screenshare: spec.screenshare,
                ..Grants::default()
            }),
        };
        let placed = self.rooms.join(request).expect("placed");
        let (peer, events_rx) = (placed.peer, placed.events);
        self.pump();
        let direction = if spec.microphone {
            Direction::SendOnly
        } else {
            Direction::RecvOnly
        };
        let mut api = rtc.sdp_api();
        let mid = api.add_media(MediaKind::Audio, direction, None, None, None);
        let simulcast = (!spec.simulcast.is_empty()).then(|| {
            let mut s = Simulcast::new();
            s.send = spec
                .simulcast
                .iter()
                .map(|r| SimulcastLayer::new(r))
                .collect();
            s
        });
        let camera_mid = spec
            .camera
            .then(|| api.add_media(MediaKind::Video, Direction::SendOnly, None, None, simulcast));
        let screen_mid = spec
            .screenshare
            .then(|| api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None));
        let (offer, pending) = api.apply().expect("an offer");
        let mut tracks = Vec::new();
        if spec.microphone {
            tracks.push(TrackDeclaration {
                mid: mid.to_string(),
                source: sfu::Source::Microphone,
            });
        }
        if let Some(camera) = camera_mid {
            tracks.push(TrackDeclaration {
                mid: camera.to_string(),
                source: sfu::Source::Camera,
            });
        }
        if let Some(screen) = screen_mid {
            tracks.push(TrackDeclaration {
                mid: screen.to_string(),
                source: sfu::Source::Screenshare,
            });
        }
        self.clients.push(MemClient {
            name: spec.name,
            peer,
            addr,
            rtc,
            up: spec.up,
            down: spec.down,
            up_free: self.now,
            down_free: self.now,
            events_rx,
            pending: Some(pending),
            next_timeout: self.now,
            events: Vec::new(),
            media: Vec::new(),
            rtp: Vec::new(),
            connected: false,
            send_mid: spec.microphone.then_some(mid),
            camera_mid,
            keyframe_requests: Vec::new(),
            remb: Vec::new(),
            silent: false,
            offers: Vec::new(),
            answer_offers: true,
        });
        self.command(Command::Offer {
            peer,
            sdp: offer.to_sdp_string(),
            tracks,
        });
        index
    }

    /// Gives the engine a command now.
    pub fn command(&mut self, command: Command) {
        self.give(EngineInput::Command {
            at: self.now,
            command,
        });
    }

    /// Gives the engine the commands the rooms layer issued.
    pub fn pump(&mut self) {
        loop {
            let next = self.commands.0.lock().expect("queue").pop_front();
            let Some(command) = next else { break };
            self.command(command);
        }
    }

    /// Runs `f` on the rooms layer (a room command, a client's mute) and gives the engine what
    /// it issued.
    pub fn rooms<T>(&mut self, f: impl FnOnce(&mut Rooms) -> T) -> T {
        let out = f(&mut self.rooms);
        self.pump();
        out
    }

    /// Runs the world until `done` holds (checked after every event) or `limit` of fake time has
    /// passed. Returns whether it held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&World) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            self.signal();
            if done(self) {
                return true;
            }
            let next = self.next_event().min(end);
            if next >= end && self.now >= end {
                return false;
            }
            self.now = next.max(self.now);
            self.step();
        }
    }

    /// Runs the world for `duration` of fake time.
    pub fn run_for(&mut self, duration: Duration) {
        self.run_until(duration, |_| false);
    }

    /// Has client `i` send a 20 ms Opus frame (`payload`, frame number `n`) now.
    pub fn send_frame(&mut self, i: usize, n: u64, payload: &[u8]) {
        self.send_frame_at_level(i, n, payload, None);
    }

    /// [`World::send_frame`] with an RFC 6464 audio level (-dBov: 0 loudest, 127 silence).
    pub fn send_frame_at_level(&mut self, i: usize, n: u64, payload: &[u8], level: Option<i8>) {
        let now = self.now;
        let c = &mut self.clients[i];
        let Some((writer, pt)) = c.send_mid.and_then(|mid| writer_of(&mut c.rtc, mid)) else {
            return;
        };
        let mt = str0m::media::MediaTime::new(n * 960, str0m::media::Frequency::FORTY_EIGHT_KHZ);
        let writer = match level {
            Some(level) => writer.audio_level(-level, true),
            None => writer,
        };
        let _ = writer.write(pt, now, mt, payload.to_vec());
        self.drain_client(i);
    }

    /// Client `i` publishes a 20 ms frame every 20 ms for `duration` while the world runs.
    pub fn talk(&mut self, i: usize, duration: Duration, payload: &[u8]) {
        let end = self.now + duration;
        let mut n = 0;
        while self.now < end {
            self.send_frame(i, n, payload);
            n += 1;
            let until = self.now + Duration::from_millis(20);
            self.run_until(until - self.now, |_| false);
        }
    }

    /// Has client `i` send video frame `n` (30 frames a second, 90 kHz) on its camera track, in
    /// the first codec negotiated for it. str0m packetizes it: a frame over the MTU is several
    /// packets.
    pub fn send_video_frame(&mut self, i: usize, n: u64, frame: &[u8]) {
        self.write_camera(i, n, None, frame);
    }

    /// Has client `i` send video frame `n` of simulcast layer `rid` on its camera track.
    pub fn send_layer_frame(&mut self, i: usize, n: u64, rid: &str, frame: &[u8]) {
        self.write_camera(i, n, Some(Rid::from(rid)), frame);
    }

    fn write_camera(&mut self, i: usize, n: u64, rid: Option<Rid>, frame: &[u8]) {
        let now = self.now;
        let c = &mut self.clients[i];
        let Some((writer, pt)) = c.camera_mid.and_then(|mid| writer_of(&mut c.rtc, mid)) else {
            return;
        };
        let writer = match rid {
            Some(rid) => writer.rid(rid),
            None => writer,
        };
        let mt = MediaTime::new(n * 3000, str0m::media::Frequency::NINETY_KHZ);
        let _ = writer.write(pt, now, mt, frame.to_vec());
        self.drain_client(i);
    }

    /// Joins `camera` (a publisher) and `sub` (a subscriber), runs until both are connected and
    /// the subscriber was told of the camera, then 300 ms more; returns their indexes.
    pub fn camera_and_subscriber(&mut self, camera: ClientSpec, sub: ClientSpec) -> (usize, usize) {
        let publisher = self.join_client(camera);
        let sub = self.join_client(sub);
        let ok = self.run_until(Duration::from_secs(10), |w| {
            w.clients.iter().all(|c| c.connected)
                && w.clients[sub].saw(|e| matches!(e, PeerEvent::TrackPublished { .. }))
        });
        assert!(ok, "both connect and the subscriber sees the camera");
        self.run_for(Duration::from_millis(300));
        (publisher, sub)
    }

    /// Has client `i` send one RTP packet on its camera track (simulcast layer `rid`) as it is,
    /// in `codec`: the test writes the payload descriptor itself (str0m's packetizers write no
    /// VP8 picture ids and no temporal layers). `seq` is the client's own extended sequence
    /// number for that layer.
    pub fn send_camera_rtp(&mut self, i: usize, packet: CameraRtp) {
        let now = self.now;
        let c = &mut self.clients[i];
        let Some(mid) = c.camera_mid else {
            return;
        };
        let Some(pt) = c.rtc.writer(mid).and_then(|w| {
            w.payload_params()
                .find(|p| p.spec().codec == packet.codec)
                .map(|p| p.pt())
        }) else {
            return;
        };
        let mut direct = c.rtc.direct_api();
        let Some(tx) = direct.stream_tx_by_mid(mid, packet.rid.map(Rid::from)) else {
            return;
        };
        let write =
            str0m::rtp::RtpWrite::new(pt, packet.seq.into(), packet.ts, now, packet.payload)
                .marker(packet.marker);
        tx.write_rtp(write);
        self.drain_client(i);
    }

    /// Client `i` sends `frames` video frames, one every 33 ms, `frame(n)` for frame `n`, while
    /// the world runs.
    pub fn film(&mut self, i: usize, frames: u64, frame: impl Fn(u64) -> Vec<u8>) {
        for n in 0..frames {
            self.send_video_frame(i, n, &frame(n));
            self.run_for(Duration::from_micros(33_333));
        }
    }

    /// The earliest of: a datagram landing, the engine's timeout, a client's timeout.
    fn next_event(&self) -> Instant {
        let mut next = self.next_engine_timeout;
        if let Some(f) = self.flights.peek() {
            next = next.min(f.at);
        }
        for c in &self.clients {
            if !c.silent {
                next = next.min(c.next_timeout);
            }
        }
        next
    }

    /// Lands every datagram due, then runs due timeouts, then drains everyone.
    fn step(&mut self) {
        let now = self.now;
        while self.flights.peek().is_some_and(|f| f.at <= now) {
            let Some(f) = self.flights.pop() else { break };
            match f.to {
                None => self.give(EngineInput::Receive {
                    at: now,
                    source: f.from,
                    contents: &f.contents,
                }),
                Some(i) => {
                    let c = &mut self.clients[i];
                    if let Ok(r) = Receive::new(Protocol::Udp, f.from, c.addr, &f.contents) {
                        let _ = c.rtc.handle_input(Input::Receive(now, r));
                    }
                    self.drain_client(i);
                }
            }
        }
        if now >= self.next_engine_timeout {
            self.give(EngineInput::Timeout(now));
        }
        for i in 0..self.clients.len() {
            if !self.clients[i].silent && now >= self.clients[i].next_timeout {
                let _ = self.clients[i].rtc.handle_input(Input::Timeout(now));
                self.drain_client(i);
            }
        }
    }

    /// Gives the engine an input and puts what it sends on the wire (the usage rule).
    fn give(&mut self, input: EngineInput<'_>) {
        self.engine
            .handle_input(input)
            .expect("the engine was drained");
        loop {
            match self.engine.poll_output() {
                EngineOutput::Transmit(t) => {
                    if let Some(i) = self.clients.iter().position(|c| c.addr == t.destination) {
                        self.send(Some(i), t.source, t.contents.to_vec());
                    }
                }
                EngineOutput::Event(e) => self.rooms.apply(e),
                EngineOutput::Timeout(at) => {
                    self.next_engine_timeout = at;
                    break;
                }
            }
        }
        let _ = self.engine.handle_input(EngineInput::Sent(self.now));
    }

    /// Drains client `i`'s str0m output onto its uplink.
    fn drain_client(&mut self, i: usize) {
        loop {
            let output = self.clients[i].rtc.poll_output();
            match output {
                Ok(Output::Timeout(t)) => {
                    self.clients[i].next_timeout = t;
                    break;
                }
                Ok(Output::Transmit(t)) => {
                    if !self.clients[i].silent && t.destination == self.sfu_addr {
                        let from = self.clients[i].addr;
                        self.send(None, from, t.contents.to_vec());
                    }
                }
                Ok(Output::Event(e)) => {
                    let c = &mut self.clients[i];
                    match e {
                        Event::Connected => c.connected = true,
                        Event::MediaData(d) => c.media.push(d),
                        Event::RtpPacket(p) => c.rtp.push(p),
                        Event::KeyframeRequest(r) => c.keyframe_requests.push(r),
                        Event::EgressBitrateEstimate(BweKind::Remb { estimate, mid }) => {
                            c.remb.push((mid, estimate.as_u64()))
                        }
                        _ => {}
                    }
                }
                Err(_) => break,
            }
        }
    }

    /// Puts a datagram on a link: the client's uplink (`to` None) or `to`'s downlink.
    fn send(&mut self, to: Option<usize>, from: SocketAddr, contents: Vec<u8>) {
        let index = to.unwrap_or_else(|| {
            self.clients
                .iter()
                .position(|c| c.addr == from)
                .expect("a client")
        });
        let now = self.now;
        let c = &mut self.clients[index];
        let (link, free) = match to {
            None => (c.up, &mut c.up_free),
            Some(_) => (c.down, &mut c.down_free),
        };
        if link.loss > 0.0 && self.rng.random_bool(link.loss.min(1.0)) {
            return;
        }
        let mut depart = now;
        if let Some(bps) = link.bandwidth_bps {
            let start = (*free).max(now);
            let bits = (contents.len() as u64 + 28) * 8; // with IP and UDP headers
            *free = start + Duration::from_nanos(bits * 1_000_000_000 / bps.max(1));
            depart = *free;
        }
        let jitter = if link.jitter.is_zero() {
            Duration::ZERO
        } else {
            let nanos = link.jitter.as_nanos() as u64;
            Duration::from_nanos(self.rng.random_range(0..=nanos))
        };
        self.next_seq += 1;
        self.flights.push(Flight {
            at: depart + link.delay + jitter,
            seq: self.next_seq,
            to,
            from,
            contents,
        });
    }

    /// Applies the engine's events to the clients: answers and offers (answered at once).
    fn signal(&mut self) {
        for i in 0..self.clients.len() {
            while let Ok(event) = self.clients[i].events_rx.try_recv() {
                let mut reply = None;
                {
                    let c = &mut self.clients[i];
                    match &event {
                        PeerEvent::Answer { sdp } => {
                            if let (Some(p), Ok(answer)) =
                                (c.pending.take(), SdpAnswer::from_sdp_string(sdp))
                            {
                                c.rtc
                                    .sdp_api()
                                    .accept_answer(p, answer)
                                    .expect("answer accepted");
                            }
                        }
                        PeerEvent::Offer { sdp } if !c.answer_offers => {
                            c.offers.push(sdp.clone());
                        }
                        PeerEvent::Offer { sdp } => {
                            c.offers.push(sdp.clone());
                            let offer = SdpOffer::from_sdp_string(sdp).expect("offer parses");
                            let answer = c.rtc.sdp_api().accept_offer(offer).expect("accepted");
                            reply = Some(answer.to_sdp_string());
                        }
                        _ => {}
                    }
                    c.events.push(event);
                }
                if let Some(sdp) = reply {
                    let peer = self.clients[i].peer;
                    self.command(Command::Answer { peer, sdp });
                }
                self.drain_client(i);
            }
        }
    }
}

/// The writer of `rtc`'s m-line `mid` and the first payload type negotiated on it.
fn writer_of(rtc: &mut Rtc, mid: Mid) -> Option<(str0m::media::Writer<'_>, str0m::media::Pt)> {
    let writer = rtc.writer(mid)?;
    let pt = writer.payload_params().next()?.pt();
    Some((writer, pt))
}

/// A publisher and a listener in `room`, connected, the listener told of the track.
pub fn connected_pair(world: &mut World, listener_down: Link, rtp_mode: bool) -> (usize, usize) {
    let publisher = world.join("alice", "room", RoomKind::Voice, true);
    let listener = world.join_with(
        "bob",
        "room",
        RoomKind::Voice,
        false,
        Link::clean(),
        listener_down,
        rtp_mode,
    );
    let ok = world.run_until(Duration::from_secs(10), |w| {
        w.clients.iter().all(|c| c.connected)
            && w.clients[listener].saw(|e| matches!(e, PeerEvent::TrackPublished { .. }))
            && w.clients[listener].offers.len()
                == w.clients[listener]
                    .events
                    .iter()
                    .filter(|e| matches!(e, PeerEvent::Offer { .. }))
                    .count()
    });
    assert!(ok, "the pair connects within 10 s of fake time");
    // The listener's answer to the track's offer settles.
    world.run_for(Duration::from_millis(200));
    (publisher, listener)
}
