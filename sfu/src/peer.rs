//! One client connection: its str0m `Rtc`, negotiation state and subscriptions.

use std::collections::HashMap;
use std::time::Instant;

use str0m::change::SdpPendingOffer;
use str0m::media::{Mid, Rid};
use str0m::net::Transmit;
use str0m::rtp::Ssrc;
use str0m::{Event, Output, Rtc};

use crate::engine::Fault;
use crate::ids::{ParticipantInfo, PeerId, RoomId};
use crate::policy::{Grants, Source};
use crate::sdp::answer::OfferedFormat;
use crate::sections::Sections;
use crate::simulcast::TrackView;

/// A published track in a room: its publisher and the publisher-side mid.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TrackKey {
    pub publisher: PeerId,
    pub mid: Mid,
}

/// Where one subscription (an outgoing m-line for a remote track) stands in negotiation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubState {
    /// Needs an m-line in the next server offer.
    ToOpen,
    /// Offered on this mid; waiting for the answer.
    Negotiating(Mid),
    /// Negotiated: packets flow on this mid.
    Open(Mid),
}

/// Output of draining a peer, for the worker to act on.
#[derive(Default)]
pub struct Drained {
    /// Datagrams to send.
    pub transmits: Vec<Transmit>,
    /// str0m events, tagged with their peer.
    pub events: Vec<(PeerId, Event)>,
    /// Peers that failed, and why.
    pub failed: Vec<(PeerId, Fault)>,
}

/// A peer and all state that belongs to it alone.
pub struct Peer {
    pub id: PeerId,
    pub room: RoomId,
    pub info: ParticipantInfo,
    pub grants: Grants,
    pub rtc: Rtc,
    pub ufrag: String,
    pub joined_at: Instant,
    pub last_rx: Option<Instant>,
    pub connected: bool,
    pub next_timeout: Option<Instant>,
    /// Mids the client publishes on, with their sources.
    pub publishing: HashMap<Mid, Source>,
    /// The m= sections of the session: server-created, free for recycling, count.
    pub sections: Sections,
    /// The first format the client offered in each section of the session, by mid: what a
    /// rejected section without a codec of its own is written with.
    pub offered_formats: HashMap<String, OfferedFormat>,
    /// The client's first offer has been applied: the server may offer from now on.
    pub remote_offer_applied: bool,
    pub pending_offer: Option<SdpPendingOffer>,
    /// When the outstanding server offer was sent (its answer is due within the negotiation
    /// timeout).
    pub offered_at: Option<Instant>,
    /// Client offers refused for glare since the client's last accepted offer.
    pub glare_refusals: u32,
    /// After a glare refusal the server makes no new offer until the client's own offer has
    /// come, or until this time, so the two stop crossing.
    pub hold_offers_until: Option<Instant>,
    /// Remote tracks this peer receives, and their negotiation state.
    pub subs: HashMap<TrackKey, SubState>,
    /// Incoming SSRC -> publisher-side mid and rid, cached off the hot path's str0m lookup.
    pub ssrc_mid: HashMap<Ssrc, (Mid, Option<Rid>)>,
    /// Moderation mute: nothing this peer sends is forwarded.
    pub server_muted: bool,
    /// The bandwidth estimate toward this peer, bits per second (video rooms: str0m's
    /// TWCC-based estimator).
    pub bwe_estimate: Option<u64>,
    /// Views the client set (`track_settings`) for tracks still being negotiated toward it:
    /// clients learn a track from the server's offer and may size its tile before they answer.
    pub early_views: HashMap<TrackKey, TrackView>,
}

impl Peer {
    pub fn new(
        id: PeerId,
        room: RoomId,
        info: ParticipantInfo,
        grants: Grants,
        rtc: Rtc,
        ufrag: String,
        now: Instant,
    ) -> Peer {
        Peer {
            id,
            room,
            info,
            grants,
            rtc,
            ufrag,
            joined_at: now,
            last_rx: None,
            connected: false,
            next_timeout: None,
            publishing: HashMap::new(),
            sections: Sections::default(),
            offered_formats: HashMap::new(),
            remote_offer_applied: false,
            pending_offer: None,
            offered_at: None,
            glare_refusals: 0,
            hold_offers_until: None,
            subs: HashMap::new(),
            ssrc_mid: HashMap::new(),
            server_muted: false,
            bwe_estimate: None,
            early_views: HashMap::new(),
        }
    }

    /// Polls str0m until it asks for a timeout, collecting transmits and events.
    /// Returns why the peer failed if it must be removed.
    pub fn drain(&mut self, out: &mut Drained) -> Result<(), Fault> {
        loop {
            if !self.rtc.is_alive() {
                return Err(Fault::Lost("the connection was closed".into()));
            }
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.next_timeout = Some(t);
                    return Ok(());
                }
                Ok(Output::Transmit(t)) => out.transmits.push(t),
                Ok(Output::Event(e)) => out.events.push((self.id, e)),
                Err(e) => {
                    self.rtc.disconnect();
                    return Err(Fault::from_rtc_error(&e));
                }
            }
        }
    }

    /// The publisher-side mid of an incoming SSRC, and its simulcast layer's rid if it has one.
    pub fn source_of_ssrc(&mut self, ssrc: Ssrc) -> Option<(Mid, Option<Rid>)> {
        if let Some(source) = self.ssrc_mid.get(&ssrc) {
            return Some(*source);
        }
        let mut api = self.rtc.direct_api();
        let stream = api.stream_rx(&ssrc)?;
        let source = (stream.mid(), stream.rid());
        self.ssrc_mid.insert(ssrc, source);
        Some(source)
    }
}
