//! Per-subscriber RTP sequence number and timestamp rewriting.
//!
//! Each outgoing stream has its own SSRC (str0m allocates it per m-line) and its own sequence and
//! timestamp space, starting low so SRTP needs no rollover signalling. Gaps in the source are kept, so
//! the subscriber sees real loss and can NACK it.

/// Maps a source's extended sequence numbers and timestamps into one subscriber's space.
#[derive(Clone, Debug, Default)]
pub struct Rewriter {
    offsets: Option<(i64, u32)>,
}

impl Rewriter {
    /// Maps `(extended seq, rtp timestamp)` of a source packet. Returns `None` for packets older
    /// than the first one this subscriber saw (they would map before the start of its stream).
    pub fn map(&mut self, src_seq: u64, src_ts: u32) -> Option<(u64, u32)> {
        let (seq_off, ts_off) = *self.offsets.get_or_insert_with(|| {
            let start_seq: u64 = 1 + u64::from(rand::random::<u16>() & 0x3fff);
            let start_ts: u32 = rand::random::<u32>();
            (
                start_seq as i64 - src_seq as i64,
                start_ts.wrapping_sub(src_ts),
            )
        });
        let seq = src_seq as i64 + seq_off;
        if seq < 1 {
            return None;
        }
        Some((seq as u64, src_ts.wrapping_add(ts_off)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_gaps_and_spacing() {
        let mut r = Rewriter::default();
        let (s0, t0) = r.map(70_000, 4_000_000_000).expect("first");
        let (s1, t1) = r
            .map(70_003, 4_000_000_000u32.wrapping_add(2880))
            .expect("later");
        assert!(s0 < 65_536, "starts without rollover");
        assert_eq!(s1 - s0, 3);
        assert_eq!(t1.wrapping_sub(t0), 2880);
    }

    #[test]
    fn refuses_packets_before_start() {
        let mut r = Rewriter::default();
        let (s0, _) = r.map(100_000, 0).expect("first");
        assert!(r.map(100_000 - s0, 0).is_none());
    }
}
