//! Which simulcast layer each subscriber receives of each track: set by [`Command::SetLayer`]
//! (`super::Command`); a layer other than the one forwarded now needs its keyframe, which is
//! asked for at once (within the layer's keyframe rate limit).

use std::time::Instant;

use super::Engine;
use crate::ids::PeerId;

impl Engine {
    /// Subscriber `sub` wants `layer` (0 = lowest; above the highest means the highest) of track
    /// `track_id`, or nothing (`None`: paused).
    pub(super) fn set_layer(
        &mut self,
        sub: PeerId,
        track_id: &str,
        layer: Option<u8>,
        now: Instant,
    ) {
        let Some(room) = self
            .peers
            .get(&sub)
            .and_then(|peer| self.rooms.get_mut(&peer.room))
        else {
            return;
        };
        let Some((key, track)) = room.tracks.iter_mut().find(|(_, t)| t.track_id == track_id)
        else {
            return;
        };
        let top = track.top_layer();
        let Some(route) = track.routes.iter_mut().find(|r| r.sub == sub) else {
            return;
        };
        let needed = route.layer.set_target(layer, top);
        let key = key.clone();
        if let Some(layer) = needed {
            self.request_keyframe(&key, layer, now);
        }
    }
}
