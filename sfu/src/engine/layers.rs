//! Which simulcast layer each subscriber receives of each track, from how it shows the track
//! (`Command::SetTrackView`: paused, a layer, or the rendered size); a layer other than the one
//! forwarded now needs its keyframe, which is asked for at once (within the layer's keyframe rate
//! limit).

use std::time::Instant;

use super::Engine;
use crate::error::ErrorCode;
use crate::events::PeerEvent;
use crate::ids::PeerId;
use crate::peer::SubState;
use crate::simulcast::{TrackView, layer_for};

impl Engine {
    /// Subscriber `sub` shows track `track_id` as `view`.
    pub(super) fn set_track_view(
        &mut self,
        sub: PeerId,
        track_id: &str,
        view: TrackView,
        now: Instant,
    ) {
        let Some(peer) = self.peers.get_mut(&sub) else {
            return;
        };
        let Some(room) = self.rooms.get_mut(&peer.room) else {
            return;
        };
        // A track offered to this subscriber and not answered yet: its view is kept for the route
        // the answer opens.
        let negotiating = room.tracks.iter().find_map(|(key, t)| {
            let offered = matches!(
                peer.subs.get(key),
                Some(SubState::ToOpen | SubState::Negotiating(_))
            );
            (t.track_id == track_id && offered).then(|| key.clone())
        });
        if let Some(key) = negotiating {
            peer.early_views.insert(key, view);
            return;
        }
        let found = room
            .tracks
            .iter_mut()
            .find(|(_, t)| t.track_id == track_id)
            .and_then(|(key, track)| {
                let top = track.top_layer();
                let layer = layer_for(view, &track.layer_sizes, top);
                let route = track.routes.iter_mut().find(|r| r.sub == sub)?;
                Some((key.clone(), route.layer.set_target(layer, top)))
            });
        // The bandwidth share follows the new view at once (and the estimator probes for it).
        let estimate = self.peers.get(&sub).and_then(|p| p.bwe_estimate);
        if let (Some(_), Some(estimate)) = (&found, estimate) {
            self.allocate_for(sub, estimate, now);
        }
        match found {
            Some((key, Some(needed))) => self.request_keyframe(&key, needed, now),
            Some((_, None)) => {}
            None => self.events.send_to_peer(
                sub,
                PeerEvent::Error {
                    code: ErrorCode::UnknownTrack,
                    message: format!(
                        "track_settings: this session receives no track {:?}",
                        track_id.chars().take(64).collect::<String>()
                    ),
                    fatal: false,
                },
            ),
        }
    }
}
