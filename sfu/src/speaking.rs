//! Speaker detection from RFC 6464 audio levels.
//!
//! A source starts speaking after enough loud packets in a short window and stops after a hold time
//! without any; both edges are reported once, so a room sees at most a few events per second.

use std::time::{Duration, Instant};

/// Loudness at or above this (in -dBov, lower is louder) counts as voice.
const VOICE_LEVEL: u8 = 50;
/// Loud packets needed inside [`START_WINDOW`] to start speaking.
const START_PACKETS: u32 = 3;
const START_WINDOW: Duration = Duration::from_millis(200);
/// Silence needed to stop speaking.
const HOLD: Duration = Duration::from_millis(600);

/// Tracks one audio source.
#[derive(Debug, Default)]
pub struct SpeakingDetector {
    speaking: bool,
    window_start: Option<Instant>,
    loud_in_window: u32,
    last_loud: Option<Instant>,
    loudest_recent: Option<u8>,
}

/// A change worth telling the room about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeakingChange {
    /// Speaking now.
    pub speaking: bool,
    /// Loudest level seen recently (0 loudest ... 127 silent).
    pub level: u8,
}

impl SpeakingDetector {
    /// Feeds one packet's level (`-dBov`, 0..=127). Returns a change when the state flips.
    pub fn observe(&mut self, now: Instant, level: u8) -> Option<SpeakingChange> {
        let level = level.min(127);
        if level <= VOICE_LEVEL {
            self.last_loud = Some(now);
            self.loudest_recent = Some(self.loudest_recent.map_or(level, |l| l.min(level)));
            match self.window_start {
                Some(start) if now.duration_since(start) <= START_WINDOW => {
                    self.loud_in_window += 1
                }
                _ => {
                    self.window_start = Some(now);
                    self.loud_in_window = 1;
                }
            }
            if !self.speaking && self.loud_in_window >= START_PACKETS {
                self.speaking = true;
                let level = self.loudest_recent.take().unwrap_or(level);
                return Some(SpeakingChange {
                    speaking: true,
                    level,
                });
            }
            None
        } else {
            self.tick(now)
        }
    }

    /// Ends speaking after the hold time; call on timeouts too so silence without packets ends it.
    pub fn tick(&mut self, now: Instant) -> Option<SpeakingChange> {
        let quiet = self.last_loud.is_none_or(|t| now.duration_since(t) > HOLD);
        if self.speaking && quiet {
            self.speaking = false;
            self.loudest_recent = None;
            return Some(SpeakingChange {
                speaking: false,
                level: 127,
            });
        }
        None
    }

    /// Whether the source is speaking (between a `speaking: true` and a `speaking: false`).
    pub fn is_speaking(&self) -> bool {
        self.speaking
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_after_loud_burst_and_stops_after_hold() {
        let t0 = Instant::now();
        let mut d = SpeakingDetector::default();
        assert_eq!(d.observe(t0, 30), None);
        assert_eq!(d.observe(t0 + Duration::from_millis(20), 30), None);
        let start = d
            .observe(t0 + Duration::from_millis(40), 25)
            .expect("starts");
        assert!(start.speaking);
        assert_eq!(start.level, 25);
        assert_eq!(d.observe(t0 + Duration::from_millis(300), 127), None);
        let stop = d.tick(t0 + Duration::from_millis(700)).expect("stops");
        assert!(!stop.speaking);
    }

    #[test]
    fn quiet_packets_never_start() {
        let t0 = Instant::now();
        let mut d = SpeakingDetector::default();
        for i in 0..100 {
            assert_eq!(d.observe(t0 + Duration::from_millis(20 * i), 90), None);
        }
        assert!(!d.is_speaking());
    }
}
