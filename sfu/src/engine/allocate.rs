//! Simulcast layers from each subscriber's bandwidth estimate (`crate::allocation`): twice a
//! second, every video-room subscriber's estimate is shared out over the video tracks it
//! receives (screenshare first, then speakers' cameras, then other cameras), each simulcast
//! route is allowed up to the layer it got (and a VP8 route the temporal layers it got, which
//! also holds for a track without simulcast), and the subscriber's estimator is told what the
//! wanted layers would cost, so it probes for that much.

use std::time::{Duration, Instant};

use str0m::bwe::Bitrate;

use super::Engine;
use crate::allocation::{Demand, TEMPORAL_LAYERS, allocate, costs};
use crate::ids::PeerId;
use crate::peer::TrackKey;
use crate::policy::{MediaKind, Source};
use crate::simulcast::{Allowance, MAX_LAYERS};
use crate::temporal::ALL_TEMPORAL;

/// How often layers are measured and allocated.
pub(super) const ALLOCATION_INTERVAL: Duration = Duration::from_millis(500);

impl Engine {
    /// Measures each layer's bitrate over the last interval, and which layers fit the source's
    /// bitrate cap (a publisher over it has its excess layers not forwarded).
    pub(super) fn measure_layers(&mut self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64().max(0.001);
        let video = &self.config.video;
        for room in self.rooms.values_mut() {
            for track in room.tracks.values_mut() {
                let mut bps = [0; MAX_LAYERS];
                for (layer, rate) in bps.iter_mut().enumerate() {
                    let bytes = std::mem::take(&mut track.layer_bytes[layer]);
                    *rate = (bytes as f64 * 8.0 / secs) as u64;
                }
                let mut temporal = [0; TEMPORAL_LAYERS];
                for (tid, rate) in temporal.iter_mut().enumerate() {
                    let bytes = std::mem::take(&mut track.temporal_bytes[tid]);
                    *rate = (bytes as f64 * 8.0 / secs) as u64;
                }
                let cap = match track.source {
                    Source::Screenshare => video.max_screenshare_bitrate_bps,
                    _ => video.max_camera_bitrate_bps,
                };
                track.measured(bps, temporal, cap);
            }
        }
    }

    /// Shares every estimating subscriber's bandwidth out over its video tracks.
    pub(super) fn allocate_layers(&mut self, now: Instant) {
        let subscribers: Vec<(PeerId, u64)> = self
            .peers
            .values()
            .filter_map(|p| p.bwe_estimate.map(|e| (p.id, e)))
            .collect();
        for (sub, estimate) in subscribers {
            self.allocate_for(sub, estimate, now);
        }
    }

    /// Shares subscriber `sub`'s `estimate` out over the video tracks it receives.
    pub(super) fn allocate_for(&mut self, sub: PeerId, estimate: u64, now: Instant) {
        let Some(room) = self
            .peers
            .get(&sub)
            .and_then(|p| self.rooms.get_mut(&p.room))
        else {
            return;
        };
        let speaking: Vec<PeerId> = room
            .tracks
            .iter()
            .filter(|(_, t)| t.source == Source::Microphone && t.speaking.is_speaking())
            .map(|(k, _)| k.publisher)
            .collect();
        let mut keys: Vec<TrackKey> = Vec::new();
        let mut demands: Vec<Demand> = Vec::new();
        for (key, track) in &room.tracks {
            if track.kind != MediaKind::Video {
                continue;
            }
            let Some(route) = track.routes.iter().find(|r| r.sub == sub) else {
                continue;
            };
            let priority = match track.source {
                Source::Screenshare => 0,
                _ if speaking.contains(&key.publisher) => 1,
                _ => 2,
            };
            keys.push(key.clone());
            demands.push(Demand {
                priority,
                // Against the layers allowed, not only those sent now: a layer dynacast paused
                // must be able to come back.
                wanted: route.layer.viewed(track.allowed_top()),
                layer_bps: track.layer_cost,
                // Temporal steps only for a track without simulcast (its one layer is forwarded
                // whatever the budget: fewer frames are better than all of them). A simulcast
                // track short of its lowest layer is not forwarded, as before: with its base
                // temporal layer still flowing, a subscriber whose estimate fell under
                // contention stayed there (browser tests with two Chromiums on 2 cores), while
                // one that receives nothing but padding climbs back.
                temporal_bps: if track.layers.is_empty() {
                    track.temporal_cost
                } else {
                    [0; TEMPORAL_LAYERS]
                },
            });
        }
        let granted = allocate(estimate, &demands);
        let (wanted_bps, used_bps) = costs(&demands, &granted);
        let mut keyframes = Vec::new();
        for (key, grant) in keys.iter().zip(&granted) {
            let Some(track) = room.tracks.get_mut(key) else {
                continue;
            };
            let top = track.top_layer();
            let simulcast = !track.layers.is_empty();
            let Some(route) = track.routes.iter_mut().find(|r| r.sub == sub) else {
                continue;
            };
            // Without simulcast the one layer is forwarded whatever the budget, at its lowest
            // frame rate when even that does not fit.
            route
                .temporal
                .set_target(grant.map_or(if simulcast { ALL_TEMPORAL } else { 0 }, |g| g.temporal));
            if !simulcast {
                continue;
            }
            let allowance = grant.map_or(Allowance::Nothing, |g| Allowance::UpTo(g.layer));
            if let Some(layer) = route.layer.set_allowance(allowance, top) {
                keyframes.push((key.clone(), layer));
            }
        }
        for (key, layer) in keyframes {
            self.request_keyframe(&key, layer, now);
        }
        if let Some(peer) = self.peers.get_mut(&sub) {
            peer.rtc.bwe().set_bitrate(
                Bitrate::bps(used_bps),
                Bitrate::bps(wanted_bps.max(used_bps)),
            );
        }
    }
}
