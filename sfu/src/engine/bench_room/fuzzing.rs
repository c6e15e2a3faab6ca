//! What the fuzz targets in `fuzz/` drive (feature `fuzzing`): newcomers that offer or answer
//! hostile SDP through the engine's own negotiation code, and datagrams fed to connected peers
//! as [`Input::Receive`](crate::engine::Input) (routing by ufrag or address, `Receive::new`,
//! `accepts`, `handle_input`, forwarding).
//!
//! A newcomer always leaves before the call returns, so the room is the same before and after
//! every input; a datagram can still break the publisher's or the subscriber's connection, which
//! [`BenchRoom::intact`] tells (the fuzz target then builds a new room).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime};
use str0m::{Candidate, Input, Output, Rtc};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use super::BenchRoom;
use crate::engine::{Command, Input as EngineInput};
use crate::events::{LeaveReason, PeerEvent};
use crate::ids::{ParticipantInfo, PeerId, RoomId};
use crate::policy::{Grants, RoomKind, RoomPolicy, TrackDeclaration};
use crate::sfu::JoinRequest;

/// The id of every newcomer (one at a time).
const NEWCOMER: PeerId = PeerId(u64::MAX);
/// An address no peer of the room uses.
const STRANGER: ([u8; 4], u16) = ([10, 255, 255, 254], 40_000);

/// Datagrams the clients sent, each with its source.
pub type Recorded = Vec<(SocketAddr, Vec<u8>)>;

/// Where a newcomer joins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// The connected voice room, as a listener without grants: the engine answers and then
    /// offers the publisher's track to it.
    ListenerInRoom,
    /// A room of its own of `kind`, with `grants`: it may publish.
    Alone(RoomKind, Grants),
}

/// The SDP a real str0m client exchanges as a listener in the room: its offer, the server's
/// answer and renegotiation offer, and its answer to that. Corpus seeds, and the newcomers'
/// offer in [`BenchRoom::newcomer_answers`].
#[derive(Clone, Debug, Default)]
pub struct ListenerExchange {
    /// The client's offer (one recvonly audio m-line).
    pub client_offer: String,
    /// The server's answer to it.
    pub server_answer: String,
    /// The server's offer of the publisher's track.
    pub server_offer: String,
    /// The client's answer to that offer.
    pub client_answer: String,
}

impl BenchRoom {
    /// [`BenchRoom::new`], returning also every datagram the clients sent the engine while they
    /// connected (STUN binding requests, the DTLS handshake), with its source: corpus seeds.
    pub fn connect_recorded(
        subscribers: usize,
    ) -> Result<(BenchRoom, Recorded), crate::error::SfuError> {
        str0m::crypto::from_feature_flags().install_process_default();
        let now = Instant::now();
        let engine = super::bench_engine(now)?;
        let server_addr = engine.advertised;
        let mut room = BenchRoom {
            engine,
            mailboxes: super::Mailboxes::new(),
            server_addr,
            publisher: super::Client::new(0, now),
            subscribers: (1..=subscribers)
                .map(|i| super::Client::new(i, now))
                .collect(),
            now,
            frames: 0,
        };
        room.join(0, true);
        for i in 0..subscribers {
            room.join(i + 1, false);
        }
        let deadline = room.now + super::CONNECT_BUDGET;
        let mut sent = Vec::new();
        while !room.all_routed() {
            if room.now > deadline {
                return Err(crate::error::SfuError::Config(
                    "bench room did not connect".into(),
                ));
            }
            sent.extend(room.step(true).into_iter().map(|d| (d.source, d.contents)));
        }
        Ok((room, sent))
    }

    /// Runs the connected room for `duration` of fake time, the publisher sending a 20 ms frame
    /// every 20 ms, and returns every datagram the clients sent the engine meanwhile (RTP,
    /// RTCP, STUN consent checks), with its source: corpus seeds.
    pub fn record_traffic(&mut self, duration: Duration) -> Vec<(SocketAddr, Vec<u8>)> {
        let end = self.now + duration;
        let mut next_frame = self.now;
        let mut sent = Vec::new();
        while self.now < end {
            if self.now >= next_frame {
                next_frame += Duration::from_millis(20);
                self.frames += 1;
                self.write_frame(&super::FRAME, self.frames * 960, Some(-30));
            }
            sent.extend(self.step(true).into_iter().map(|d| (d.source, d.contents)));
        }
        sent
    }

    /// Addresses a datagram may come from: the publisher's, each subscriber's, and one that no
    /// peer uses.
    pub fn datagram_sources(&self) -> Vec<SocketAddr> {
        std::iter::once(self.publisher.addr)
            .chain(self.subscribers.iter().map(|c| c.addr))
            .chain(std::iter::once(SocketAddr::from(STRANGER)))
            .collect()
    }

    /// The ICE ufrags the engine routes STUN by, sorted.
    pub fn ufrags(&self) -> Vec<String> {
        let mut ufrags: Vec<String> = self.engine.by_ufrag.keys().cloned().collect();
        ufrags.sort();
        ufrags
    }

    /// Whether the publisher and every subscriber are still connected and routed.
    pub fn intact(&self) -> bool {
        self.all_routed()
    }

    /// Feeds one datagram from `source` to the engine as its event loop does, then runs its due
    /// timers. Returns how many datagrams the engine queued (they are dropped).
    pub fn receive(&mut self, source: SocketAddr, data: &[u8]) -> usize {
        self.now += Duration::from_micros(20);
        let now = self.now;
        let received = self.give(EngineInput::Receive {
            at: now,
            source,
            contents: data,
        });
        received.len() + self.give(EngineInput::Timeout(now)).len()
    }

    /// Has the publisher client send `payload` as one Opus frame at `rtp_time` (with an RFC 6464
    /// audio level if given), encrypted as usual, and feeds what it sent to the engine. Returns
    /// how many datagrams the engine queued.
    pub fn publish(&mut self, payload: &[u8], rtp_time: u64, audio_level: Option<i8>) -> usize {
        if !self.write_frame(payload, rtp_time, audio_level) {
            return 0;
        }
        let mut sent = Vec::new();
        while let Ok(output) = self.publisher.rtc.poll_output() {
            match output {
                Output::Transmit(t) if t.destination == self.server_addr => {
                    sent.push(t.contents.to_vec())
                }
                Output::Timeout(_) => break,
                _ => {}
            }
        }
        let source = self.publisher.addr;
        sent.iter().map(|d| self.receive(source, d)).sum()
    }

    /// Has the publisher's client write one Opus frame; false if it could not.
    fn write_frame(&mut self, payload: &[u8], rtp_time: u64, audio_level: Option<i8>) -> bool {
        let now = self.now;
        let Some(mid) = self.publisher.send_mid else {
            return false;
        };
        let Some(mut writer) = self.publisher.rtc.writer(mid) else {
            return false;
        };
        let Some(pt) = writer.payload_params().next().map(|p| p.pt()) else {
            return false;
        };
        if let Some(level) = audio_level {
            writer = writer.audio_level(level, level > -40);
        }
        let time = MediaTime::new(rtp_time, Frequency::FORTY_EIGHT_KHZ);
        if writer.write(pt, now, time, payload.to_vec()).is_err() {
            return false;
        }
        self.publisher.rtc.handle_input(Input::Timeout(now)).is_ok()
    }

    /// A newcomer arrives, makes each of `offers` in turn (with `tracks` declared), trickles
    /// `candidates`, and leaves. Returns the events the engine sent it.
    pub fn newcomer_offers(
        &mut self,
        arrival: Arrival,
        offers: &[&str],
        tracks: &[TrackDeclaration],
        candidates: &[&str],
    ) -> Vec<PeerEvent> {
        let now = self.now;
        let mut events = self.arrive(arrival, now);
        for sdp in offers {
            self.command(
                Command::Offer {
                    peer: NEWCOMER,
                    sdp: sdp.to_string(),
                    tracks: tracks.to_vec(),
                },
                now,
            );
        }
        for candidate in candidates {
            self.command(
                Command::Candidate {
                    peer: NEWCOMER,
                    candidate: candidate.to_string(),
                },
                now,
            );
        }
        self.leave(now, &mut events)
    }

    /// A listener arrives in the room with `offer` (see [`ListenerExchange::client_offer`]),
    /// receives the server's offer of the publisher's track, answers with each of `answers` in
    /// turn, and leaves. Returns the events the engine sent it.
    pub fn newcomer_answers(&mut self, offer: &str, answers: &[&str]) -> Vec<PeerEvent> {
        let now = self.now;
        let mut events = self.arrive(Arrival::ListenerInRoom, now);
        self.command(
            Command::Offer {
                peer: NEWCOMER,
                sdp: offer.to_string(),
                tracks: Vec::new(),
            },
            now,
        );
        for sdp in answers {
            self.command(
                Command::Answer {
                    peer: NEWCOMER,
                    sdp: sdp.to_string(),
                },
                now,
            );
        }
        self.leave(now, &mut events)
    }

    /// A real str0m client joins as a listener and negotiates like the sfu tests' clients do;
    /// returns the four SDPs of the exchange (`None` if the engine did not answer or offer).
    pub fn listener_exchange(&mut self) -> Option<ListenerExchange> {
        let now = self.now;
        let addr = SocketAddr::from(([10, 254, 0, 1], 40_000));
        let mut client = Rtc::builder().build(now);
        client.add_local_candidate(Candidate::host(addr, "udp").ok()?)?;
        let mut api = client.sdp_api();
        api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
        let (offer, pending) = api.apply()?;
        let mut exchange = ListenerExchange {
            client_offer: offer.to_sdp_string(),
            ..ListenerExchange::default()
        };
        let mut events = self.arrive(Arrival::ListenerInRoom, now);
        self.command(
            Command::Offer {
                peer: NEWCOMER,
                sdp: exchange.client_offer.clone(),
                tracks: Vec::new(),
            },
            now,
        );
        let mut pending = Some(pending);
        while let Ok(event) = events.try_recv() {
            match event {
                PeerEvent::Answer { sdp } => {
                    let answer = SdpAnswer::from_sdp_string(&sdp).ok()?;
                    client
                        .sdp_api()
                        .accept_answer(pending.take()?, answer)
                        .ok()?;
                    exchange.server_answer = sdp;
                }
                PeerEvent::Offer { sdp } => {
                    let offer = SdpOffer::from_sdp_string(&sdp).ok()?;
                    let answer = client.sdp_api().accept_offer(offer).ok()?;
                    exchange.client_answer = answer.to_sdp_string();
                    exchange.server_offer = sdp;
                    self.command(
                        Command::Answer {
                            peer: NEWCOMER,
                            sdp: exchange.client_answer.clone(),
                        },
                        now,
                    );
                }
                _ => {}
            }
        }
        self.leave(now, &mut events);
        let complete = !exchange.server_answer.is_empty() && !exchange.client_answer.is_empty();
        complete.then_some(exchange)
    }

    fn arrive(&mut self, arrival: Arrival, now: Instant) -> UnboundedReceiver<PeerEvent> {
        let (room, policy, grants) = match arrival {
            Arrival::ListenerInRoom => (
                RoomId("bench".into()),
                RoomPolicy::for_kind(RoomKind::Voice),
                Grants::default(),
            ),
            Arrival::Alone(kind, grants) => {
                (RoomId("fuzz".into()), RoomPolicy::for_kind(kind), grants)
            }
        };
        let (tx, rx) = unbounded_channel();
        self.mailboxes.insert(NEWCOMER, tx);
        let request = JoinRequest {
            room,
            policy,
            participant: ParticipantInfo {
                participant_id: "p_newcomer".into(),
                user_id: "newcomer".into(),
                device_id: "fuzz".into(),
            },
            grants,
        };
        self.command(
            Command::AddPeer {
                peer: NEWCOMER,
                request: Box::new(request),
            },
            now,
        );
        rx
    }

    /// The newcomer leaves; everything it left behind in the engine and in the other clients'
    /// event queues is cleared. Returns the events it was sent.
    fn leave(&mut self, now: Instant, events: &mut UnboundedReceiver<PeerEvent>) -> Vec<PeerEvent> {
        self.command(
            Command::Remove {
                peer: NEWCOMER,
                reason: LeaveReason::Left,
            },
            now,
        );
        self.engine
            .timers
            .retain(|std::cmp::Reverse((_, id))| *id != NEWCOMER);
        for client in std::iter::once(&mut self.publisher).chain(self.subscribers.iter_mut()) {
            while client.events.try_recv().is_ok() {}
        }
        self.mailboxes.remove(&NEWCOMER);
        let mut seen = Vec::new();
        while let Ok(event) = events.try_recv() {
            seen.push(event);
        }
        seen
    }

    /// Gives the engine a command and drops what it sends; returns how many datagrams that was.
    fn command(&mut self, command: Command, now: Instant) -> usize {
        self.give(EngineInput::Command { at: now, command }).len()
    }
}
