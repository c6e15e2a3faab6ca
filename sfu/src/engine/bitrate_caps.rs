//! Bitrate caps of video publishers: each video track's publisher is told the room's cap for the
//! track's source (camera or screenshare) as a REMB on that stream, once its first packets arrive
//! and again every [`BITRATE_CAP_REFRESH`]. Browsers and str0m hold their send rate under it.

use std::time::Instant;

use str0m::Input;
use str0m::bwe::Bitrate;

use super::{Engine, drain_and_rearm};
use crate::peer::TrackKey;
use crate::policy::{MediaKind, Source};
use crate::video_policy::BITRATE_CAP_REFRESH;

impl Engine {
    /// Sends the caps that are due (housekeeping).
    pub(super) fn send_bitrate_caps(&mut self, now: Instant) {
        let video = &self.config.video;
        let mut due = Vec::new();
        for room in self.rooms.values() {
            for (key, track) in &room.tracks {
                let fresh = track
                    .cap_sent_at
                    .is_some_and(|at| now.saturating_duration_since(at) < BITRATE_CAP_REFRESH);
                if track.kind != MediaKind::Video || fresh {
                    continue;
                }
                let cap = match track.source {
                    Source::Screenshare => video.max_screenshare_bitrate_bps,
                    _ => video.max_camera_bitrate_bps,
                };
                due.push((key.clone(), cap));
            }
        }
        for (key, cap) in due {
            if self.send_cap(&key, cap, now)
                && let Some(track) = self.track_mut(&key)
            {
                track.cap_sent_at = Some(now);
            }
        }
    }

    /// A REMB of `cap` bits per second on track `key`'s stream; false while the stream has not
    /// sent a packet yet.
    fn send_cap(&mut self, key: &TrackKey, cap: u64, now: Instant) -> bool {
        let Some(publisher) = self.peers.get_mut(&key.publisher) else {
            return false;
        };
        let mut api = publisher.rtc.direct_api();
        let Some(stream) = api.stream_rx_by_mid(key.mid, None) else {
            return false;
        };
        stream.request_remb(Bitrate::bps(cap));
        if publisher.rtc.handle_input(Input::Timeout(now)).is_ok() {
            drain_and_rearm(publisher, &mut self.drained, &mut self.timers);
        }
        true
    }
}
