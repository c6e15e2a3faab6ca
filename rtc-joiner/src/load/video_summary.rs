//! The video part of a load run's report, summed from the joiners' own summaries: per-layer
//! bitrates sent, frames, keyframes, freezes and loss received, keyframe requests, and the
//! resolutions subscribers ended on.

use crate::Summary;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// One simulcast encoding (or the single one) summed over publishers.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SentLayer {
    /// Publishers' tracks sending it.
    pub tracks: u64,
    /// Frames sent.
    pub frames: u64,
    /// Mean bitrate per track, kbit/s.
    pub kbps_per_track: f64,
    /// Frames held by dynacast (paused, or waiting for a keyframe after a pause).
    pub frames_held: u64,
}

/// Video over the whole run.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct VideoLoad {
    /// By `source/rid` (`camera/q`, `screenshare/-`).
    pub sent: BTreeMap<String, SentLayer>,
    /// Remote video tracks received (per subscriber and publisher).
    pub tracks_received: u64,
    /// Decodable frames received.
    pub frames: u64,
    /// Of which keyframes.
    pub keyframes: u64,
    /// Frames dropped as undecodable.
    pub frames_dropped: u64,
    /// RTP packets received.
    pub packets_received: u64,
    /// Packets missing.
    pub packets_lost: u64,
    /// PLIs subscribers sent.
    pub keyframe_requests: u64,
    /// Freezes (WebRTC stats' rule) and their total length.
    pub freezes: u64,
    /// Seconds frozen, summed over tracks.
    pub freeze_seconds: f64,
    /// Tracks by the resolution they ended on (`320x180`).
    pub final_resolutions: BTreeMap<String, u64>,
}

impl VideoLoad {
    /// Adds one joiner's summary.
    pub fn add(&mut self, summary: &Summary) {
        for track in &summary.video_sent {
            for layer in &track.layers {
                let key = format!("{}/{}", track.source, layer.rid.as_deref().unwrap_or("-"));
                let sent = self.sent.entry(key).or_default();
                // A running mean of the per-track bitrate.
                sent.kbps_per_track = (sent.kbps_per_track * sent.tracks as f64 + layer.kbps)
                    / (sent.tracks + 1) as f64;
                sent.tracks += 1;
                sent.frames += layer.frames_sent;
                sent.frames_held += layer.frames_held;
            }
        }
        for r in &summary.video_received {
            self.tracks_received += 1;
            self.frames += r.frames;
            self.keyframes += r.keyframes;
            self.frames_dropped += r.frames_dropped;
            self.packets_received += r.packets_received;
            self.packets_lost += r.packets_lost;
            self.keyframe_requests += r.keyframe_requests;
            self.freezes += r.freezes;
            self.freeze_seconds += r.freeze_seconds;
            let last = r.resolutions.last().map_or("unknown".to_owned(), |r| {
                format!("{}x{}", r.width, r.height)
            });
            *self.final_resolutions.entry(last).or_default() += 1;
        }
    }

    /// Whether any video was sent or received.
    pub fn is_empty(&self) -> bool {
        self.sent.is_empty() && self.tracks_received == 0
    }
}

impl fmt::Display for VideoLoad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (layer, s) in &self.sent {
            writeln!(
                f,
                "video sent {layer}: {} tracks, {:.0} kbit/s each, {} frames, {} held by dynacast",
                s.tracks, s.kbps_per_track, s.frames, s.frames_held
            )?;
        }
        let lost = self.packets_lost as f64 * 100.0
            / (self.packets_received + self.packets_lost).max(1) as f64;
        writeln!(
            f,
            "video received: {} tracks, {} frames ({} keyframes, {} dropped), {} lost ({lost:.3}%), \
             {} freezes ({:.1} s), {} PLIs",
            self.tracks_received,
            self.frames,
            self.keyframes,
            self.frames_dropped,
            self.packets_lost,
            self.freezes,
            self.freeze_seconds,
            self.keyframe_requests
        )?;
        let sizes: Vec<String> = self
            .final_resolutions
            .iter()
            .map(|(size, n)| format!("{size}: {n}"))
            .collect();
        writeln!(f, "video final resolutions: {}", sizes.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::receiver::{ResolutionChange, VideoReceiverReport};
    use crate::video::sender::{VideoLayerReport, VideoSenderReport};

    #[test]
    fn summaries_add_up() {
        let publisher = Summary {
            video_sent: vec![VideoSenderReport {
                source: "camera".into(),
                layers: vec![
                    VideoLayerReport {
                        rid: Some("q".into()),
                        frames_sent: 300,
                        kbps: 150.0,
                        ..Default::default()
                    },
                    VideoLayerReport {
                        rid: Some("f".into()),
                        frames_sent: 200,
                        kbps: 1000.0,
                        frames_held: 100,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        let subscriber = |w, h| Summary {
            video_received: vec![VideoReceiverReport {
                frames: 290,
                keyframes: 10,
                packets_received: 1000,
                packets_lost: 2,
                freezes: 1,
                resolutions: vec![ResolutionChange {
                    at_ms: 0,
                    width: w,
                    height: h,
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut load = VideoLoad::default();
        for s in [
            publisher,
            subscriber(320, 180),
            subscriber(320, 180),
            subscriber(1280, 720),
        ] {
            load.add(&s);
        }
        assert_eq!(load.sent["camera/q"].frames, 300);
        assert_eq!(load.sent["camera/f"].frames_held, 100);
        assert_eq!(load.tracks_received, 3);
        assert_eq!(load.frames, 870);
        assert_eq!(load.final_resolutions["320x180"], 2);
        let text = load.to_string();
        assert!(
            text.contains("video sent camera/q: 1 tracks, 150 kbit/s each"),
            "{text}"
        );
        assert!(text.contains("1280x720: 1"), "{text}");
    }
}
