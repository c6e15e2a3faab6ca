//! A str0m client over real UDP on loopback, pumped by the test thread with deadlines.

#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use sfu::{
    Grants, JoinRequest, ParticipantInfo, PeerEvent, PeerHandle, RoomId, RoomKind, RoomPolicy, Sfu,
    SfuConfig,
};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaData, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

pub fn start_sfu() -> Sfu {
    Sfu::start(SfuConfig::default()).expect("sfu starts")
}

pub fn join(sfu: &Sfu, room: &str, user: &str, grants: Grants, kind: RoomKind) -> PeerHandle {
    sfu.join(JoinRequest {
        room: RoomId(room.into()),
        policy: RoomPolicy::for_kind(kind),
        participant: ParticipantInfo {
            participant_id: format!("p_{user}"),
            user_id: user.into(),
            device_id: "dev".into(),
        },
        grants,
    })
    .expect("join")
}

pub fn mic() -> Grants {
    Grants {
        microphone: true,
        ..Grants::default()
    }
}

/// A client: str0m in frame mode, its socket, its sfu handle and what it saw.
pub struct Client {
    pub name: String,
    pub rtc: Rtc,
    pub socket: UdpSocket,
    pub handle: PeerHandle,
    pub pending: Option<SdpPendingOffer>,
    pub events: Vec<PeerEvent>,
    pub media: Vec<MediaData>,
    pub connected: bool,
    pub send_mid: Option<Mid>,
    /// Answer server offers as they come (off: the test answers, or never does).
    pub answer_offers: bool,
    /// SDP of every offer this client sent.
    pub offers_sent: Vec<String>,
    /// SDP of every answer this client sent.
    pub answers_sent: Vec<String>,
    next_timeout: Instant,
}

impl Client {
    pub fn new(name: &str, handle: PeerHandle) -> Client {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.set_nonblocking(true).expect("nonblocking");
        let mut rtc = Rtc::builder().build(Instant::now());
        let local = socket.local_addr().expect("addr");
        rtc.add_local_candidate(Candidate::host(local, "udp").expect("candidate"));
        Client {
            name: name.into(),
            rtc,
            socket,
            handle,
            pending: None,
            events: Vec::new(),
            media: Vec::new(),
            connected: false,
            send_mid: None,
            answer_offers: true,
            offers_sent: Vec::new(),
            answers_sent: Vec::new(),
            next_timeout: Instant::now(),
        }
    }

    /// Offers the given m-lines (kind, direction) and sends the offer to the sfu.
    pub fn offer(&mut self, lines: &[(MediaKind, Direction)]) -> Vec<Mid> {
        self.offer_edited(lines, |sdp| sdp)
    }

    /// Like [`Client::offer`], with the SDP text passed through `edit` before it is sent (the
    /// client's own str0m keeps the unedited offer).
    pub fn offer_edited(
        &mut self,
        lines: &[(MediaKind, Direction)],
        edit: impl FnOnce(String) -> String,
    ) -> Vec<Mid> {
        let mut api = self.rtc.sdp_api();
        let mids: Vec<Mid> = lines
            .iter()
            .map(|(k, d)| api.add_media(*k, *d, None, None, None))
            .collect();
        let (offer, pending) = api.apply().expect("changes");
        self.pending = Some(pending);
        self.offers_sent.push(offer.to_sdp_string());
        self.handle
            .offer(edit(offer.to_sdp_string()), vec![])
            .expect("offer sent");
        if let Some((_, Direction::SendRecv | Direction::SendOnly)) = lines.first() {
            self.send_mid = mids.first().copied();
        }
        mids
    }

    /// Sends raw SDP text as an offer.
    pub fn offer_raw(&mut self, sdp: String) {
        self.handle.offer(sdp, vec![]).expect("offer sent");
    }

    /// Moves time, network and sfu events forward once.
    pub fn pump(&mut self) {
        let now = Instant::now();
        while let Some(event) = self.handle.try_next_event() {
            match &event {
                PeerEvent::Answer { sdp } => {
                    if let Some(p) = self.pending.take() {
                        let answer = SdpAnswer::from_sdp_string(sdp).expect("answer parses");
                        self.rtc
                            .sdp_api()
                            .accept_answer(p, answer)
                            .expect("answer accepted");
                    }
                }
                PeerEvent::Offer { sdp } if self.answer_offers => {
                    let offer = SdpOffer::from_sdp_string(sdp).expect("offer parses");
                    let answer = self
                        .rtc
                        .sdp_api()
                        .accept_offer(offer)
                        .expect("offer accepted");
                    self.answers_sent.push(answer.to_sdp_string());
                    self.handle
                        .answer(answer.to_sdp_string())
                        .expect("answer sent");
                }
                _ => {}
            }
            self.events.push(event);
        }
        let mut buf = [0u8; 2000];
        while let Ok((n, source)) = self.socket.recv_from(&mut buf) {
            let dest = self.socket.local_addr().expect("addr");
            if let Ok(r) = Receive::new(Protocol::Udp, source, dest, &buf[..n]) {
                let _ = self.rtc.handle_input(Input::Receive(Instant::now(), r));
            }
        }
        if now >= self.next_timeout {
            let _ = self.rtc.handle_input(Input::Timeout(now));
        }
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.next_timeout = t;
                    break;
                }
                Ok(Output::Transmit(t)) => {
                    let _ = self.socket.send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(e)) => match e {
                    Event::Connected => self.connected = true,
                    Event::MediaData(d) => self.media.push(d),
                    _ => {}
                },
                Err(_) => break,
            }
        }
    }

    /// Writes one 20 ms Opus frame on the sending m-line.
    pub fn send_frame(&mut self, n: u64, payload: &[u8]) {
        self.send_frame_at_level(n, payload, None);
    }

    /// Writes one 20 ms Opus frame with an RFC 6464 audio level (-dBov, 0 loudest).
    pub fn send_frame_at_level(&mut self, n: u64, payload: &[u8], level: Option<i8>) {
        let Some(mid) = self.send_mid else { return };
        let Some(writer) = self.rtc.writer(mid) else {
            return;
        };
        let Some(pt) = writer.payload_params().next().map(|p| p.pt()) else {
            return;
        };
        let mt = str0m::media::MediaTime::new(n * 960, str0m::media::Frequency::FORTY_EIGHT_KHZ);
        let writer = match level {
            Some(level) => writer.audio_level(-level, true),
            None => writer,
        };
        let _ = writer.write(pt, Instant::now(), mt, payload.to_vec());
    }

    pub fn saw(&self, pred: impl Fn(&PeerEvent) -> bool) -> bool {
        self.events.iter().any(pred)
    }

    /// Takes the sfu's events without touching the network (a client whose media never flows).
    pub fn take_events(&mut self) {
        while let Some(event) = self.handle.try_next_event() {
            self.events.push(event);
        }
    }

    /// Whether this client was ever told that `participant` publishes a track: a
    /// `TrackPublished`, or tracks in a participant snapshot.
    pub fn saw_track_of(&self, participant: &str) -> bool {
        let has_tracks = |p: &sfu::ParticipantSnapshot| {
            p.info.participant_id == participant && !p.tracks.is_empty()
        };
        self.saw(|e| match e {
            PeerEvent::TrackPublished { participant_id, .. } => participant_id == participant,
            PeerEvent::Joined { participants } => participants.iter().any(has_tracks),
            PeerEvent::ParticipantJoined(p) => has_tracks(p),
            _ => false,
        })
    }

    /// The SDP of the server offers this client received.
    pub fn offers_received(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                PeerEvent::Offer { sdp } => Some(sdp.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The fatal error this client got, if any.
    pub fn fatal_error(&self) -> Option<(sfu::ErrorCode, String)> {
        self.events.iter().find_map(|e| match e {
            PeerEvent::Error {
                code,
                message,
                fatal: true,
            } => Some((*code, message.clone())),
            _ => None,
        })
    }
}

/// Pumps all clients until `done` holds or the deadline passes. Returns whether it held.
pub fn pump_until(
    clients: &mut [&mut Client],
    deadline: Duration,
    mut done: impl FnMut(&[&mut Client]) -> bool,
) -> bool {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        for c in clients.iter_mut() {
            c.pump();
        }
        if done(clients) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

pub fn sfu_addr(sfu: &Sfu) -> SocketAddr {
    sfu.local_addrs()[0]
}
