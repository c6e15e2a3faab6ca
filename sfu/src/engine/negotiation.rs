//! Offer/answer with the client, its side: its offers (filtered by media policy, answered), its
//! answers to the server's offers, its trickled candidates. The server's own offers are in
//! `server_offer.rs`.

use std::collections::HashMap;
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::Mid;
use str0m::{Candidate, RtcError};

use super::Engine;
use super::server_offer::GLARE_HOLD;
use crate::error::ErrorCode;
use crate::events::PeerEvent;
use crate::ids::PeerId;
use crate::peer::{Peer, SubState};
use crate::policy::{MediaKind, TrackDeclaration};
use crate::rewrite::Rewriter;
use crate::room::Route;
use crate::sdp::answer::{SectionCensus, finish_rejected_sections, offered_formats};
use crate::sdp::filter::{OfferRules, filter_offer};
use crate::simulcast::layer_for;
use crate::video_policy::VideoPolicy;

/// Client offers refused for glare in a row (without one of its offers being accepted) after
/// which the negotiation is declared failed: a client that never answers the server's offer,
/// or keeps offering over it.
const MAX_GLARE_REFUSALS: u32 = 8;

fn error(code: ErrorCode, message: impl Into<String>, fatal: bool) -> PeerEvent {
    PeerEvent::Error {
        code,
        message: message.into(),
        fatal,
    }
}

fn refusal_message(
    code: ErrorCode,
    kind: MediaKind,
    source: &str,
    mid: &str,
    video: &VideoPolicy,
) -> String {
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
        ErrorCode::CodecNotAllowed => match kind {
            MediaKind::Audio => format!("m-line {mid} offers no allowed codec (opus)"),
            MediaKind::Video => format!(
                "m-line {mid} offers no video codec this room allows ({})",
                video.codec_names()
            ),
        },
        ErrorCode::VideoPublishersFull => format!(
            "this room already has {} participants publishing video; m-line {mid} ({source}) \
             will not be forwarded",
            video.max_video_publishers
        ),
        ErrorCode::DuplicateSource => format!(
            "you already publish {source} on another m-line of this offer (one track per source); \
             m-line {mid} rejected"
        ),
        _ => format!("m-line {mid} refused"),
    }
}

/// Why str0m would not apply an SDP, for people: its sentence for SDP it understood but cannot
/// use, a plain statement when the text is not SDP at all (the parser's detail goes to the log).
fn sdp_refusal(what: &str, e: &RtcError) -> String {
    match e {
        RtcError::RemoteSdp(reason) => format!("the {what} cannot be used: {reason}"),
        RtcError::Sdp(_) => format!("the {what} is not valid SDP"),
        RtcError::ChangesOutOfOrder => {
            format!("the {what} does not answer the server's current offer")
        }
        _ => format!("the {what} cannot be used"),
    }
}

fn too_large(what: &str, len: usize, max: usize) -> String {
    format!(
        "the {what} is {len} bytes; SDP in this room may be at most {max} bytes (room for one \
         m= section per track the room can hold)"
    )
}

impl Engine {
    pub(super) fn client_offer(
        &mut self,
        id: PeerId,
        sdp: &str,
        tracks: &[TrackDeclaration],
        now: Instant,
    ) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let Some(room) = self.rooms.get(&peer.room) else {
            return;
        };
        let max_bytes = room.policy.max_sdp_bytes();
        if sdp.len() > max_bytes {
            self.events.send_to_peer(
                id,
                error(
                    ErrorCode::InvalidSdp,
                    too_large("offer", sdp.len(), max_bytes),
                    false,
                ),
            );
            return;
        }
        if peer.pending_offer.is_some() {
            peer.glare_refusals += 1;
            if peer.glare_refusals > MAX_GLARE_REFUSALS {
                let message = format!(
                    "{MAX_GLARE_REFUSALS} offers in a row crossed the server's outstanding offer: \
                     roll back and answer the server's offer before offering again"
                );
                self.end_negotiation(id, ErrorCode::NegotiationFailed, message, "glare loop");
                return;
            }
            // Give the client room to answer and offer before the server offers again.
            peer.hold_offers_until = Some(now + GLARE_HOLD);
            self.events.send_to_peer(
                id,
                error(
                    ErrorCode::NegotiationGlare,
                    "the server's offer is outstanding and wins: roll back yours, answer the \
                 server's offer, then offer again",
                    false,
                ),
            );
            return;
        }
        let filtered = filter_offer(
            sdp,
            &OfferRules {
                policy: &room.policy,
                grants: &peer.grants,
                declarations: tracks,
                server_mids: peer.sections.server_mids(),
                video_codecs: &self.config.video.codecs,
                may_publish_video: room.may_publish_video(id, &self.config.video),
            },
        );
        let max_sections = room.policy.max_sections();
        if filtered.sections > max_sections {
            self.events.send_to_peer(
                id,
                error(
                    ErrorCode::InvalidSdp,
                    format!(
                        "the offer has {} m= sections; a session in this room holds at most \
                     {max_sections} (one per track in the room, and {} of your own)",
                        filtered.sections,
                        crate::SPARE_SECTIONS
                    ),
                    false,
                ),
            );
            return;
        }
        let offer = match SdpOffer::from_sdp_string(&filtered.sdp) {
            Ok(o) => o,
            Err(e) => {
                tracing::debug!(peer = %id, error = %e, "client offer does not parse");
                self.events.send_to_peer(
                    id,
                    error(ErrorCode::InvalidSdp, "the offer is not valid SDP", false),
                );
                return;
            }
        };
        let answer = match peer.rtc.sdp_api().accept_offer(offer) {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!(peer = %id, error = %e, "client offer refused");
                let fatal = !peer.rtc.is_alive();
                let message = sdp_refusal("offer", &e);
                self.events
                    .send_to_peer(id, error(ErrorCode::InvalidSdp, message.clone(), fatal));
                if fatal {
                    self.drained.failed.push((id, super::Fault::Lost(message)));
                }
                return;
            }
        };
        for line in &filtered.lines {
            if let Some(code) = line.refusal {
                self.events.send_to_peer(
                    id,
                    error(
                        code,
                        refusal_message(
                            code,
                            line.kind,
                            line.source.as_str(),
                            &line.mid,
                            &self.config.video,
                        ),
                        false,
                    ),
                );
            }
        }
        peer.offered_formats.extend(offered_formats(sdp));
        let answer = finish_rejected_sections(&answer.to_sdp_string(), &peer.offered_formats);
        complete_exchange(peer, &answer);
        self.events
            .send_to_peer(id, PeerEvent::Answer { sdp: answer });
        peer.remote_offer_applied = true;
        peer.glare_refusals = 0;
        peer.hold_offers_until = None;
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

    pub(super) fn client_answer(&mut self, id: PeerId, sdp: &str, now: Instant) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let Some(pending) = peer.pending_offer.take() else {
            self.events.send_to_peer(
                id,
                error(
                    ErrorCode::NoPendingOffer,
                    "no server offer is outstanding: answer only the server's offers",
                    false,
                ),
            );
            return;
        };
        peer.offered_at = None;
        let Some(room) = self.rooms.get_mut(&peer.room) else {
            return;
        };
        let max_bytes = room.policy.max_sdp_bytes();
        // (message for the client, cause for the log)
        let accepted: Result<(), (String, String)> = if sdp.len() > max_bytes {
            Err((
                too_large("answer", sdp.len(), max_bytes),
                "too large".into(),
            ))
        } else {
            SdpAnswer::from_sdp_string(sdp)
                .map_err(|e| ("the answer is not valid SDP".to_string(), e.to_string()))
                .and_then(|answer| {
                    peer.rtc
                        .sdp_api()
                        .accept_answer(pending, answer)
                        .map_err(|e| (sdp_refusal("answer", &e), e.to_string()))
                })
        };
        if let Err((message, cause)) = accepted {
            // Offering the same changes again would only meet the same answer.
            self.end_negotiation(id, ErrorCode::NegotiationFailed, message, &cause);
            return;
        }
        for (key, state) in peer.subs.iter_mut() {
            if let SubState::Negotiating(mid) = *state {
                *state = SubState::Open(mid);
                if let Some(track) = room.tracks.get_mut(key) {
                    let mut route = Route::new(id, mid, Rewriter::new(track.kind));
                    if let Some(view) = peer.early_views.remove(key) {
                        let top = track.top_layer();
                        route
                            .layer
                            .set_target(layer_for(view, &track.layer_sizes, top), top);
                    }
                    track.routes.push(route);
                    self.keyframes_wanted.push(key.clone());
                }
            }
        }
        // Views of tracks that went away before they were answered.
        let subs = &peer.subs;
        peer.early_views.retain(|key, _| subs.contains_key(key));
        complete_exchange(peer, sdp);
        if peer.hold_offers_until.is_some() {
            // Glare: the client answers first, then offers; hold from the answer on.
            peer.hold_offers_until = Some(now + GLARE_HOLD);
        }
        self.drain_peer(id);
        self.negotiate(id);
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
            Err(e) => {
                tracing::debug!(peer = %id, error = %e, "client candidate does not parse");
                self.events.send_to_peer(
                    id,
                    error(
                        ErrorCode::InvalidSdp,
                        "the candidate is not an SDP candidate attribute (candidate:<foundation> \
                     <component> <transport> <priority> <address> <port> typ <type> ...)",
                        false,
                    ),
                )
            }
        }
        self.drain_peer(id);
    }
}

/// Takes in the description an exchange made current (`sdp`, the answer): section count, server
/// sections left, slots free for recycling, formats of the client's sections still there.
fn complete_exchange(peer: &mut Peer, sdp: &str) {
    let census = SectionCensus::of(sdp);
    peer.offered_formats
        .retain(|mid, _| census.mids.contains(mid));
    let rtc = &peer.rtc;
    peer.sections
        .completed(&census, |m| rtc.media(m).is_some_and(|m| m.stopped()));
}
