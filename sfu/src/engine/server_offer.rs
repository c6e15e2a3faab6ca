//! The server's offers: an m= section for every remote track a peer receives, a stopped one for
//! every track that ended, slots of stopped sections recycled for new tracks (RFC 8829 section
//! 5.2.2), and the bounds that keep a negotiation from hanging.
//!
//! Rules kept here:
//! - At most one server offer is outstanding per peer; changes that come meanwhile wait for the
//!   next one.
//! - A new track takes the slot of a stopped section of its kind in the current description if
//!   there is one (a new mid at the same index), else a new section is appended, up to
//!   [`RoomPolicy::max_sections`](crate::RoomPolicy::max_sections); at that cap it takes a stopped
//!   section of the other kind, or waits for a stop to be negotiated. Server mids are `s1`, `s2`,
//!   ... and never repeat.
//! - An offer unanswered within `negotiation_timeout` ends the peer (`negotiation_timeout`); an
//!   answer that cannot be applied, or a client whose offers keep crossing the server's, ends it
//!   too (`negotiation_failed`). Both are fatal, logged at WARN and counted.

use std::time::{Duration, Instant};

use str0m::media::{Direction, Mid};

use super::Engine;
use crate::error::ErrorCode;
use crate::events::{LeaveReason, PeerEvent};
use crate::ids::PeerId;
use crate::peer::{SubState, TrackKey};
use crate::policy::MediaKind;
use crate::room::Route;
use crate::sdp::answer::finish_rejected_sections;
use crate::sections::IdleSection;
use crate::stats::WorkerStats;

/// After refusing a client offer for glare, how long the server waits for that offer (counted
/// from the client's answer) before it offers again.
pub(super) const GLARE_HOLD: Duration = Duration::from_secs(2);

fn str0m_kind(kind: MediaKind) -> str0m::media::MediaKind {
    match kind {
        MediaKind::Audio => str0m::media::MediaKind::Audio,
        MediaKind::Video => str0m::media::MediaKind::Video,
    }
}

impl Engine {
    /// Sends a server offer if subscriptions changed and no negotiation is under way.
    pub(super) fn negotiate(&mut self, id: PeerId) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if !peer.remote_offer_applied
            || peer.pending_offer.is_some()
            || peer.hold_offers_until.is_some()
            || !peer.rtc.is_alive()
        {
            return;
        }
        let Some(room) = self.rooms.get_mut(&peer.room) else {
            return;
        };
        // Where each waiting track goes, decided before the SDP API borrows the connection.
        let max_sections = room.policy.max_sections();
        let mut appended = 0;
        let mut placements: Vec<(TrackKey, Mid, Option<Mid>)> = Vec::new();
        let mut reused: Vec<(TrackKey, IdleSection)> = Vec::new();
        let mut to_stop: Vec<Mid> = Vec::new();
        let mut vanished = Vec::new();
        for (key, state) in &peer.subs {
            if *state != SubState::ToOpen {
                continue;
            }
            let Some(track) = room.tracks.get(key) else {
                vanished.push(key.clone());
                continue;
            };
            let rtc = &peer.rtc;
            let live = |m| rtc.media(m).is_some_and(|m| !m.stopped());
            // An idle section of the track's kind first: no offer needed.
            if let Some(idle) = peer.sections.take_idle(track.kind, live) {
                reused.push((key.clone(), idle));
                continue;
            }
            let kind = str0m_kind(track.kind);
            let stopped = |m| rtc.media(m).is_some_and(|m| m.stopped());
            // A slot of the same kind when there is one: JSEP lets a recycled m-line change
            // kind, but not every client copes (aiortc keeps the old transceiver at that index).
            let mut slot = peer
                .sections
                .take_free(stopped, |m| rtc.media(m).is_some_and(|m| m.kind() == kind));
            if slot.is_none() {
                if peer.sections.count() + appended < max_sections {
                    appended += 1;
                } else {
                    slot = peer.sections.take_free(stopped, |_| true);
                    if slot.is_none() {
                        // At the cap: an idle section of the other kind is stopped by this offer,
                        // and its slot recycled once that is answered.
                        if let Some(idle) = peer.sections.take_any_idle(live) {
                            to_stop.push(idle.mid);
                        }
                        continue;
                    }
                }
            }
            let mid = peer.sections.new_mid(|m| rtc.media(m).is_some());
            placements.push((key.clone(), mid, slot));
        }
        for key in vanished {
            peer.subs.remove(&key);
        }
        for (key, idle) in reused {
            let Some(track) = room.tracks.get_mut(&key) else {
                continue;
            };
            // The section's msid names its new owner in any later offer; the client learns it
            // now from `track_published`.
            peer.rtc
                .direct_api()
                .set_msid(idle.mid, &track.participant_id, &track.track_id);
            track.routes.push(Route::new(id, idle.mid, idle.rewriter));
            self.keyframes_wanted.push(key.clone());
            peer.subs.insert(key, SubState::Open(idle.mid));
            WorkerStats::add(&self.stats.sections_reused, 1);
            self.events.send_to_peer(
                id,
                PeerEvent::TrackPublished {
                    participant_id: track.participant_id.clone(),
                    track: track.snapshot(),
                    mid: idle.mid.to_string(),
                },
            );
        }
        let mut api = peer.rtc.sdp_api();
        let mut announcements = Vec::new();
        for (key, mid, slot) in placements {
            let Some(track) = room.tracks.get(&key) else {
                continue;
            };
            let added = api.add_media_with_mid(
                mid,
                slot,
                str0m_kind(track.kind),
                Direction::SendOnly,
                Some(track.participant_id.clone()),
                Some(track.track_id.clone()),
                None,
            );
            if !added {
                tracing::debug!(peer = %id, %mid, "no section for a remote track; retried later");
                continue;
            }
            peer.subs.insert(key, SubState::Negotiating(mid));
            announcements.push((
                mid,
                PeerEvent::TrackPublished {
                    participant_id: track.participant_id.clone(),
                    track: track.snapshot(),
                    mid: mid.to_string(),
                },
            ));
        }
        for mid in to_stop {
            api.stop_media(mid);
        }
        if !api.has_changes() {
            return;
        }
        let Some((offer, pending)) = api.apply() else {
            return;
        };
        peer.pending_offer = Some(pending);
        peer.offered_at = None; // stamped by the next housekeeping tick
        for (mid, event) in announcements {
            peer.sections.created(mid);
            self.events.send_to_peer(id, event);
        }
        self.events.send_to_peer(
            id,
            PeerEvent::Offer {
                sdp: finish_rejected_sections(&offer.to_sdp_string(), &peer.offered_formats),
            },
        );
        self.drain_peer(id);
    }

    /// Ends negotiations that hang: an offer unanswered for `negotiation_timeout` (measured from
    /// the first housekeeping tick that sees it), and lifts glare holds that expired.
    pub(super) fn negotiation_housekeeping(&mut self, now: Instant) {
        let timeout = self.config.negotiation_timeout;
        let mut overdue = Vec::new();
        let mut resume = Vec::new();
        for peer in self.peers.values_mut() {
            if peer.pending_offer.is_some() {
                match peer.offered_at {
                    None => peer.offered_at = Some(now),
                    Some(t) if now.saturating_duration_since(t) > timeout => overdue.push(peer.id),
                    Some(_) => {}
                }
            }
            // A hold lasts while the offer that caused it is outstanding (the client's answer
            // restarts it).
            if peer.pending_offer.is_none() && peer.hold_offers_until.is_some_and(|t| now >= t) {
                peer.hold_offers_until = None;
                resume.push(peer.id);
            }
        }
        for id in overdue {
            let message = format!(
                "no answer to the server's offer within {} s",
                timeout.as_secs_f32()
            );
            self.end_negotiation(id, ErrorCode::NegotiationTimeout, message, "answer overdue");
        }
        for id in resume {
            self.negotiate(id);
        }
    }

    /// Ends a peer whose negotiation cannot complete: a fatal error with `code` and `message`
    /// (for people), a WARN line with the `cause`, a count, and the room told it left.
    pub(super) fn end_negotiation(
        &mut self,
        id: PeerId,
        code: ErrorCode,
        message: String,
        cause: &str,
    ) {
        let Some(peer) = self.peers.get(&id) else {
            return;
        };
        tracing::warn!(
            peer = %id,
            room = %peer.room,
            participant = %peer.info.participant_id,
            code = code.as_str(),
            %message,
            cause,
            "negotiation failed; peer removed"
        );
        WorkerStats::add(&self.stats.negotiations_failed, 1);
        self.events.send_to_peer(
            id,
            PeerEvent::Error {
                code,
                message,
                fatal: true,
            },
        );
        self.remove_peer(id, LeaveReason::Failed);
    }
}
