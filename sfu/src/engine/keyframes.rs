//! Keyframe requests: a subscriber's PLI or FIR for one of its m-lines reaches the publisher of
//! the track on it as a PLI, through the track's [`KeyframeGate`] (at most one per
//! `keyframe_request_interval`; requests inside it are held and sent when it ends). A subscriber's
//! new video route asks for one too, so it starts decoding without waiting for the next periodic
//! keyframe.

use std::time::Instant;

use str0m::Input;
use str0m::media::{KeyframeRequestKind, Mid, Rid};

use super::{Engine, drain_and_rearm};
use crate::ids::PeerId;
use crate::peer::{SubState, TrackKey};
use crate::policy::MediaKind;
use crate::stats::WorkerStats;

impl Engine {
    /// Subscriber `sub` asked for a keyframe on its m-line `mid`: the layer it wants is asked for.
    pub(super) fn on_keyframe_request(&mut self, sub: PeerId, mid: Mid, now: Instant) {
        WorkerStats::add(&self.stats.keyframe_requests_received, 1);
        let Some(peer) = self.peers.get(&sub) else {
            return;
        };
        let key = peer
            .subs
            .iter()
            .find_map(|(key, state)| (*state == SubState::Open(mid)).then(|| key.clone()));
        let Some(key) = key else {
            return;
        };
        let layer = self.track(&key).and_then(|track| {
            let route = track.routes.iter().find(|r| r.sub == sub)?;
            route.layer.wanted(track.top_layer())
        });
        if let Some(layer) = layer {
            self.request_keyframe(&key, layer, now);
        }
    }

    /// Asks the publisher of video track `key` for a keyframe of `layer`, within that layer's
    /// rate limit.
    pub(super) fn request_keyframe(&mut self, key: &TrackKey, layer: u8, now: Instant) {
        let interval = self.config.keyframe_request_interval;
        let Some(track) = self.track_mut(key) else {
            return;
        };
        let Some(gate) = track.keyframes.get_mut(usize::from(layer)) else {
            return;
        };
        if track.kind == MediaKind::Video && gate.request(now, interval) {
            let rid = track.rid_of(layer);
            self.send_pli(key, rid, now);
        }
    }

    /// Sends the held requests whose interval has ended (housekeeping).
    pub(super) fn send_held_keyframe_requests(&mut self, now: Instant) {
        let interval = self.config.keyframe_request_interval;
        let mut due = Vec::new();
        for room in self.rooms.values_mut() {
            for (key, track) in room.tracks.iter_mut() {
                for layer in 0..track.keyframes.len() {
                    if track.keyframes[layer].due(now, interval) {
                        due.push((key.clone(), track.rid_of(layer as u8)));
                    }
                }
            }
        }
        for (key, rid) in due {
            self.send_pli(&key, rid, now);
        }
    }

    fn send_pli(&mut self, key: &TrackKey, rid: Option<Rid>, now: Instant) {
        let Some(publisher) = self.peers.get_mut(&key.publisher) else {
            return;
        };
        let mut api = publisher.rtc.direct_api();
        let Some(stream) = api.stream_rx_by_mid(key.mid, rid) else {
            // No packet from this track yet: its first frames are a keyframe anyway.
            return;
        };
        stream.request_keyframe(KeyframeRequestKind::Pli);
        WorkerStats::add(&self.stats.keyframe_requests_sent, 1);
        // str0m writes the PLI on its next timeout.
        if publisher.rtc.handle_input(Input::Timeout(now)).is_ok() {
            drain_and_rearm(publisher, &mut self.drained, &mut self.timers);
        }
    }
}
