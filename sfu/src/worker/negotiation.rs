//! Offer/answer with the client: its offers (filtered by media policy) and the server's
//! renegotiation offers when remote tracks come and go.

use std::collections::HashMap;
use std::time::Instant;

use str0m::Candidate;
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{Direction, Mid};

use super::Worker;
use crate::error::ErrorCode;
use crate::events::PeerEvent;
use crate::ids::PeerId;
use crate::peer::SubState;
use crate::policy::{MediaKind, TrackDeclaration};
use crate::room::Route;
use crate::sdp_filter::{OfferRules, filter_offer};

/// Largest SDP accepted from a client.
const MAX_SDP_BYTES: usize = 64 * 1024;

fn error(code: ErrorCode, message: impl Into<String>, fatal: bool) -> PeerEvent {
    PeerEvent::Error {
        code,
        message: message.into(),
        fatal,
    }
}

fn refusal_message(code: ErrorCode, kind: MediaKind, source: &str, mid: &str) -> String {
    match code {
        ErrorCode::MediaSourceNotAllowed => {
            format!(
                "{} ({source}) is not allowed in this room; m-line {mid} rejected",
                kind.as_str()
            )
        }
        ErrorCode::PublishNotPermitted => {
            format!(
                "your ticket does not grant publishing {source}; m-line {mid} will not be forwarded"
            )
        }
        ErrorCode::CodecNotAllowed => format!("m-line {mid} offers no allowed codec (opus)"),
        _ => format!("m-line {mid} refused"),
    }
}

impl Worker {
    pub(super) fn client_offer(
        &mut self,
        id: PeerId,
        sdp: &str,
        tracks: &[TrackDeclaration],
        _now: Instant,
    ) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if sdp.len() > MAX_SDP_BYTES {
            peer.emit(error(ErrorCode::InvalidSdp, "offer is too large", false));
            return;
        }
        if peer.pending_offer.is_some() {
            peer.emit(error(
                ErrorCode::NegotiationGlare,
                "a server offer is outstanding: answer it, then offer again",
                false,
            ));
            return;
        }
        let Some(room) = self.rooms.get(&peer.room) else {
            return;
        };
        let filtered = filter_offer(
            sdp,
            &OfferRules {
                policy: &room.policy,
                grants: &peer.grants,
                declarations: tracks,
                server_mids: &peer.server_mids,
            },
        );
        let offer = match SdpOffer::from_sdp_string(&filtered.sdp) {
            Ok(o) => o,
            Err(e) => {
                peer.emit(error(
                    ErrorCode::InvalidSdp,
                    format!("offer does not parse: {e}"),
                    false,
                ));
                return;
            }
        };
        let answer = match peer.rtc.sdp_api().accept_offer(offer) {
            Ok(a) => a,
            Err(e) => {
                let fatal = !peer.rtc.is_alive();
                let message = format!("offer refused: {e}");
                peer.emit(error(ErrorCode::InvalidSdp, message.clone(), fatal));
                if fatal {
                    self.drained.failed.push((id, super::Fault::Lost(message)));
                }
                return;
            }
        };
        for line in &filtered.lines {
            if let Some(code) = line.refusal {
                peer.emit(error(
                    code,
                    refusal_message(code, line.kind, line.source.as_str(), &line.mid),
                    false,
                ));
            }
        }
        peer.emit(PeerEvent::Answer {
            sdp: answer.to_sdp_string(),
        });
        peer.remote_offer_applied = true;
        let wanted: HashMap<Mid, _> = filtered
            .lines
            .iter()
            .filter(|l| l.publishes)
            .map(|l| (Mid::from(l.mid.as_str()), l.source))
            .collect();
        self.reconcile_publishing(id, wanted);
        self.drain_peer(id);
        self.negotiate(id);
    }

    pub(super) fn client_answer(&mut self, id: PeerId, sdp: &str, _now: Instant) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let Some(pending) = peer.pending_offer.take() else {
            peer.emit(error(
                ErrorCode::NoPendingOffer,
                "no server offer is outstanding",
                false,
            ));
            return;
        };
        let accepted = if sdp.len() > MAX_SDP_BYTES {
            Err("answer is too large".to_string())
        } else {
            SdpAnswer::from_sdp_string(sdp)
                .map_err(|e| format!("answer does not parse: {e}"))
                .and_then(|answer| {
                    peer.rtc
                        .sdp_api()
                        .accept_answer(pending, answer)
                        .map_err(|e| format!("answer refused: {e}"))
                })
        };
        let Some(room) = self.rooms.get_mut(&peer.room) else {
            return;
        };
        match accepted {
            Ok(()) => {
                let mut closed = Vec::new();
                for (key, state) in peer.subs.iter_mut() {
                    match *state {
                        SubState::Negotiating(mid) => {
                            *state = SubState::Open(mid);
                            if let Some(track) = room.tracks.get_mut(key) {
                                track.routes.push(Route {
                                    sub: id,
                                    mid,
                                    rewriter: Default::default(),
                                    pt: None,
                                });
                            }
                        }
                        SubState::NegotiatingStop(_) => closed.push(key.clone()),
                        _ => {}
                    }
                }
                for key in closed {
                    peer.subs.remove(&key);
                }
            }
            Err(message) => {
                // Dropping the pending offer rolled str0m back; offer the same changes again later.
                for state in peer.subs.values_mut() {
                    match *state {
                        SubState::Negotiating(_) => *state = SubState::ToOpen,
                        SubState::NegotiatingStop(mid) => *state = SubState::ToStop(mid),
                        _ => {}
                    }
                }
                peer.emit(error(ErrorCode::InvalidSdp, message, false));
                return;
            }
        }
        self.drain_peer(id);
        self.negotiate(id);
    }

    /// Sends a server offer if subscriptions changed and no negotiation is under way.
    pub(super) fn negotiate(&mut self, id: PeerId) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if !peer.remote_offer_applied || peer.pending_offer.is_some() || !peer.rtc.is_alive() {
            return;
        }
        let Some(room) = self.rooms.get(&peer.room) else {
            return;
        };
        let mut api = peer.rtc.sdp_api();
        let mut announcements = Vec::new();
        let mut vanished = Vec::new();
        for (key, state) in peer.subs.iter_mut() {
            match *state {
                SubState::ToOpen => {
                    let Some(track) = room.tracks.get(key) else {
                        vanished.push(key.clone());
                        continue;
                    };
                    let kind = match track.kind {
                        MediaKind::Audio => str0m::media::MediaKind::Audio,
                        MediaKind::Video => str0m::media::MediaKind::Video,
                    };
                    let mid = api.add_media(
                        kind,
                        Direction::SendOnly,
                        Some(track.participant_id.clone()),
                        Some(track.track_id.clone()),
                        None,
                    );
                    *state = SubState::Negotiating(mid);
                    announcements.push(PeerEvent::TrackPublished {
                        participant_id: track.participant_id.clone(),
                        track: track.snapshot(),
                        mid: mid.to_string(),
                    });
                }
                SubState::ToStop(mid) => {
                    api.stop_media(mid);
                    *state = SubState::NegotiatingStop(mid);
                }
                _ => {}
            }
        }
        for key in vanished {
            peer.subs.remove(&key);
        }
        if !api.has_changes() {
            return;
        }
        let Some((offer, pending)) = api.apply() else {
            return;
        };
        peer.pending_offer = Some(pending);
        for event in announcements {
            if let PeerEvent::TrackPublished { mid, .. } = &event {
                peer.server_mids.insert(mid.clone());
            }
            peer.emit(event);
        }
        peer.emit(PeerEvent::Offer {
            sdp: offer.to_sdp_string(),
        });
        self.drain_peer(id);
    }

    pub(super) fn remote_candidate(&mut self, id: PeerId, candidate: &str, _now: Instant) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let line = candidate.trim().trim_start_matches("a=");
        if line.is_empty() {
            return; // end of candidates
        }
        match Candidate::from_sdp_string(line) {
            Ok(c) => peer.rtc.add_remote_candidate(c),
            Err(e) => peer.emit(error(
                ErrorCode::InvalidSdp,
                format!("bad candidate: {e}"),
                false,
            )),
        }
        self.drain_peer(id);
    }
}
