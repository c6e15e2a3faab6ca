//! Dynacast: publishers send only what someone receives. After each allocation, every video
//! track's highest layer any subscriber gets (within its view and its bandwidth) is compared
//! with what the publisher was last told; the publisher is told the layers to send
//! (`PeerEvent::PublishLayers`), or that nobody receives the track at all. More is told at once
//! (with a keyframe request for the layers coming back); less only after it has been enough for
//! [`DYNACAST_DELAY`], so a tile that flickers does not make the encoder stop and start.

use std::time::{Duration, Instant};

use super::Engine;
use crate::events::PeerEvent;
use crate::peer::TrackKey;
use crate::policy::MediaKind;
use crate::stats::WorkerStats;

/// How long fewer layers must be enough before the publisher is told to send fewer.
pub(super) const DYNACAST_DELAY: Duration = Duration::from_secs(2);

/// What the publisher of one track was told, and since when it could send less.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dynacast {
    /// `None`: nothing told yet (it sends everything it offered). `Some(None)`: paused.
    /// `Some(Some(top))`: layers up to `top`.
    told: Option<Option<u8>>,
    /// Since when less than told has been enough.
    less_since: Option<Instant>,
}

impl Dynacast {
    /// What to tell now, given the highest layer `needed` (`None`: nobody receives it) of a
    /// track whose highest offered layer is `full`.
    pub fn decide(&mut self, needed: Option<u8>, full: u8, now: Instant) -> Option<Option<u8>> {
        let told = self.told.unwrap_or(Some(full));
        if needed == told {
            self.less_since = None;
            return None;
        }
        // `None < Some(_)`: paused is the least.
        if needed > told {
            self.less_since = None;
            self.told = Some(needed);
            return Some(needed);
        }
        let since = *self.less_since.get_or_insert(now);
        if now.saturating_duration_since(since) < DYNACAST_DELAY {
            return None;
        }
        self.less_since = None;
        self.told = Some(needed);
        Some(needed)
    }
}

impl Engine {
    /// Tells publishers which layers of their video tracks anyone receives.
    pub(super) fn update_dynacast(&mut self, now: Instant) {
        let mut tell = Vec::new();
        for room in self.rooms.values_mut() {
            for (key, track) in room.tracks.iter_mut() {
                if track.kind != MediaKind::Video {
                    continue;
                }
                let allowed = track.allowed_top();
                let needed = track
                    .routes
                    .iter()
                    .filter_map(|r| r.layer.wanted(allowed))
                    .max();
                // Layers above the room's limit were offered and are sent until told otherwise.
                let full = track
                    .offered_layers
                    .max(track.layers.len())
                    .saturating_sub(1) as u8;
                if let Some(top) = track.dynacast.decide(needed, full, now) {
                    let rids = match top {
                        Some(top) if !track.layers.is_empty() => track.layers
                            [..=usize::from(top).min(track.layers.len() - 1)]
                            .iter()
                            .map(|r| r.to_string())
                            .collect(),
                        _ => Vec::new(),
                    };
                    tell.push((key.clone(), top, rids));
                }
            }
        }
        for (key, top, rids) in tell {
            WorkerStats::add(&self.stats.dynacast_updates, 1);
            let TrackKey { publisher, mid } = key.clone();
            self.events.send_to_peer(
                publisher,
                PeerEvent::PublishLayers {
                    mid: mid.to_string(),
                    paused: top.is_none(),
                    rids,
                },
            );
            if top.is_some() {
                // Layers coming back start with a keyframe.
                self.keyframes_wanted.push(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_at_once_less_after_the_delay() {
        let t0 = Instant::now();
        let mut d = Dynacast::default();
        assert_eq!(d.decide(Some(2), 2, t0), None, "everything, as offered");
        assert_eq!(d.decide(Some(0), 2, t0), None, "not yet");
        assert_eq!(d.decide(Some(0), 2, t0 + DYNACAST_DELAY / 2), None);
        assert_eq!(d.decide(Some(0), 2, t0 + DYNACAST_DELAY), Some(Some(0)));
        assert_eq!(
            d.decide(Some(1), 2, t0 + DYNACAST_DELAY),
            Some(Some(1)),
            "more: at once"
        );
        assert_eq!(d.decide(None, 2, t0 + DYNACAST_DELAY * 2), None);
        assert_eq!(
            d.decide(Some(1), 2, t0 + DYNACAST_DELAY * 2),
            None,
            "wanted again: timer reset"
        );
        assert_eq!(d.decide(None, 2, t0 + DYNACAST_DELAY * 3), None);
        assert_eq!(
            d.decide(None, 2, t0 + DYNACAST_DELAY * 4),
            Some(None),
            "paused"
        );
    }
}
