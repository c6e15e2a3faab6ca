//! Keyframe requests toward one published video track, rate limited: at most one per interval.
//!
//! Subscribers ask for keyframes (PLI or FIR) when they join, switch or lose a frame; many
//! subscribers of one track ask at once. The publisher hears one PLI per interval at most; a
//! request inside the interval is held, not dropped, and goes out when the interval ends, so a
//! subscriber that joins just after another still gets its keyframe.

use std::time::{Duration, Instant};

/// The request state of one track.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyframeGate {
    last_sent: Option<Instant>,
    held: bool,
}

impl KeyframeGate {
    /// A subscriber asks now. `true`: send a request to the publisher now; `false`: it is held
    /// until the interval since the last one ends ([`KeyframeGate::due`]).
    pub fn request(&mut self, now: Instant, interval: Duration) -> bool {
        if self.open(now, interval) {
            self.last_sent = Some(now);
            self.held = false;
            true
        } else {
            self.held = true;
            false
        }
    }

    /// Whether a held request is due now (and is then counted as sent).
    pub fn due(&mut self, now: Instant, interval: Duration) -> bool {
        self.held && self.request(now, interval)
    }

    fn open(&self, now: Instant, interval: Duration) -> bool {
        self.last_sent
            .is_none_or(|last| now.saturating_duration_since(last) >= interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_millis(500);

    #[test]
    fn one_request_per_interval_and_none_lost() {
        let t0 = Instant::now();
        let mut gate = KeyframeGate::default();
        assert!(gate.request(t0, INTERVAL), "the first goes out at once");
        assert!(
            !gate.request(t0, INTERVAL),
            "a second subscriber at once is held"
        );
        assert!(!gate.request(t0 + INTERVAL / 2, INTERVAL), "still held");
        assert!(
            !gate.due(t0 + INTERVAL / 2, INTERVAL),
            "not before the interval ends"
        );
        assert!(
            gate.due(t0 + INTERVAL, INTERVAL),
            "the held requests go out as one"
        );
        assert!(
            !gate.due(t0 + 3 * INTERVAL, INTERVAL),
            "nothing is held any more"
        );
        assert!(
            gate.request(t0 + 3 * INTERVAL, INTERVAL),
            "a later one goes out at once"
        );
    }
}
