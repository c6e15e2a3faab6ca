//! Keeps a received stream's decoded timeline true to its RTP timestamps.

/// The longest gap (in samples at 48 kHz) filled with concealment/silence: 10 s.
/// Larger timestamp jumps are treated as discontinuities and not filled.
pub const MAX_FILLED_GAP: u32 = 480_000;

/// Where a packet goes on the output timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Decode and append it, after filling `gap` missing samples.
    Append {
        /// Samples missing before this packet (lost packets, or a muted/DTX pause).
        gap: u32,
    },
    /// It belongs to a time already written (reordered or duplicate): skip it.
    Late,
}

/// Tracks the next expected RTP timestamp of a stream.
#[derive(Debug, Clone, Default)]
pub struct Playout {
    next_timestamp: Option<u32>,
}

impl Playout {
    /// Decides where the packet with `timestamp` goes.
    pub fn place(&mut self, timestamp: u32) -> Placement {
        let Some(expected) = self.next_timestamp else {
            return Placement::Append { gap: 0 };
        };
        let ahead = timestamp.wrapping_sub(expected) as i32;
        if ahead < 0 {
            Placement::Late
        } else if ahead as u32 > MAX_FILLED_GAP {
            tracing::debug!(ahead, "RTP timestamp discontinuity; not filling the gap");
            Placement::Append { gap: 0 }
        } else {
            Placement::Append { gap: ahead as u32 }
        }
    }

    /// Records that `samples` samples starting at `timestamp` were written.
    pub fn advance(&mut self, timestamp: u32, samples: usize) {
        self.next_timestamp = Some(timestamp.wrapping_add(samples as u32));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_lost_late_and_discontinuous() {
        let mut playout = Playout::default();
        assert_eq!(playout.place(1_000), Placement::Append { gap: 0 });
        playout.advance(1_000, 960);
        assert_eq!(playout.place(1_960), Placement::Append { gap: 0 });
        playout.advance(1_960, 960);
        // Two packets lost.
        assert_eq!(playout.place(4_840), Placement::Append { gap: 1_920 });
        playout.advance(4_840, 960);
        // One of them shows up late.
        assert_eq!(playout.place(2_920), Placement::Late);
        // A jump of a minute is not filled.
        assert_eq!(
            playout.place(5_800 + 2_880_000),
            Placement::Append { gap: 0 }
        );
    }

    #[test]
    fn wraps_around() {
        let mut playout = Playout::default();
        playout.advance(u32::MAX - 100, 960);
        assert_eq!(playout.place(859), Placement::Append { gap: 0 });
        assert_eq!(playout.place(859 + 960), Placement::Append { gap: 960 });
    }
}
