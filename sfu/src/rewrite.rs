//! Per-subscriber RTP sequence number and timestamp rewriting.
//!
//! Each outgoing stream has its own SSRC (str0m allocates it per m-line) and its own sequence and
//! timestamp space, starting low so SRTP needs no rollover signalling. Gaps in the source are kept, so
//! the subscriber sees real loss and can NACK it.
//!
//! When an idle m-line is reused for another source (see `sections.rs`), the outgoing stream keeps
//! its SSRC, so the new source must continue its space: the first packet of the new source gets
//! the sequence number after the last one sent and a timestamp advanced by the wall-clock time
//! since that packet, as a jitter buffer expects of one talker who paused.
//!
//! Packets the server drops on purpose (frames of a temporal layer the subscriber does not get,
//! see `temporal.rs`) are taken out of the sequence space ([`Rewriter::skip`]): the subscriber
//! sees no gap to ask a retransmission for.

use std::collections::VecDeque;
use std::time::Instant;

use crate::policy::MediaKind;

/// Maps a source's extended sequence numbers and timestamps into one subscriber's space.
#[derive(Clone, Debug)]
pub struct Rewriter {
    /// Sequence and timestamp offsets, and the first sequence number of this source's packets.
    offsets: Option<(i64, u32, u64)>,
    /// The highest sequence number sent so far, its timestamp and when its source packet arrived.
    last: Option<(u64, u32, Instant)>,
    /// RTP clock rate of the stream (Hz).
    clock_hz: u32,
    /// Source sequence numbers skipped lately, ascending: each shifts the packets after it down
    /// by one. The oldest are folded into the offset.
    skipped: VecDeque<u64>,
    /// The newest skipped sequence number folded into the offset: packets older than it map
    /// nowhere any more.
    folded: Option<u64>,
}

/// Skipped sequence numbers kept apart before the oldest is folded into the offset (a packet
/// arriving later than this many skips cannot be placed and is not forwarded).
const SKIPS_KEPT: usize = 128;

impl Rewriter {
    /// A rewriter for a new outgoing stream of `kind` (random start, Opus 48 kHz or video 90 kHz).
    pub fn new(kind: MediaKind) -> Self {
        let clock_hz = match kind {
            MediaKind::Audio => 48_000,
            MediaKind::Video => 90_000,
        };
        Self {
            offsets: None,
            last: None,
            clock_hz,
            skipped: VecDeque::new(),
            folded: None,
        }
    }

    /// The rewriter for the next source on the same outgoing stream: its first packet continues
    /// right after the last packet this one sent.
    pub fn handover(&self) -> Self {
        Self {
            offsets: None,
            last: self.last,
            clock_hz: self.clock_hz,
            skipped: VecDeque::new(),
            folded: None,
        }
    }

    /// Takes the source packet `src_seq` out of the stream: it is not sent, and the packets
    /// after it move down by one. Nothing before the stream's first packet.
    pub fn skip(&mut self, src_seq: u64) {
        let Some((seq_off, _, first)) = self.offsets.as_mut() else {
            return;
        };
        if (src_seq as i64 + *seq_off) < *first as i64 || self.folded.is_some_and(|f| src_seq <= f)
        {
            return;
        }
        let at = self.skipped.partition_point(|s| *s < src_seq);
        if self.skipped.get(at) == Some(&src_seq) {
            return;
        }
        self.skipped.insert(at, src_seq);
        if self.skipped.len() > SKIPS_KEPT
            && let Some(oldest) = self.skipped.pop_front()
        {
            *seq_off -= 1;
            self.folded = Some(oldest);
        }
    }

    /// Maps `(extended seq, rtp timestamp)` of a source packet that arrived at `at`. Returns
    /// `None` for packets older than the first one this subscriber saw from this source (they
    /// would map before the start of its stream, or into the previous source's).
    pub fn map(&mut self, src_seq: u64, src_ts: u32, at: Instant) -> Option<(u64, u32)> {
        let (seq_off, ts_off, first) = *self.offsets.get_or_insert_with(|| {
            let (start_seq, start_ts) = match self.last {
                Some((seq, ts, when)) => {
                    let ticks =
                        at.saturating_duration_since(when).as_secs_f64() * f64::from(self.clock_hz);
                    (seq + 1, ts.wrapping_add((ticks as u32).max(1)))
                }
                None => (
                    1 + u64::from(rand::random::<u16>() & 0x3fff),
                    rand::random::<u32>(),
                ),
            };
            (
                start_seq as i64 - src_seq as i64,
                start_ts.wrapping_sub(src_ts),
                start_seq,
            )
        });
        if self.folded.is_some_and(|f| src_seq <= f) {
            return None;
        }
        let skipped_before = self.skipped.partition_point(|s| *s < src_seq);
        if self.skipped.get(skipped_before) == Some(&src_seq) {
            return None; // a copy of a packet taken out
        }
        let seq = src_seq as i64 + seq_off - skipped_before as i64;
        if seq < first as i64 {
            return None;
        }
        let seq = seq as u64;
        let ts = src_ts.wrapping_add(ts_off);
        if self.last.is_none_or(|(s, _, _)| seq > s) {
            self.last = Some((seq, ts, at));
        }
        Some((seq, ts))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn keeps_gaps_and_spacing() {
        let now = Instant::now();
        let mut r = Rewriter::new(MediaKind::Audio);
        let (s0, t0) = r.map(70_000, 4_000_000_000, now).expect("first");
        let (s1, t1) = r
            .map(70_003, 4_000_000_000u32.wrapping_add(2880), now)
            .expect("later");
        assert!(s0 < 65_536, "starts without rollover");
        assert_eq!(s1 - s0, 3);
        assert_eq!(t1.wrapping_sub(t0), 2880);
    }

    #[test]
    fn refuses_packets_before_start() {
        let now = Instant::now();
        let mut r = Rewriter::new(MediaKind::Audio);
        let (s0, _) = r.map(100_000, 0, now).expect("first");
        assert!(r.map(100_000 - s0, 0, now).is_none());
    }

    #[test]
    fn skipped_packets_leave_no_gap() {
        let now = Instant::now();
        let mut r = Rewriter::new(MediaKind::Video);
        r.skip(9); // before the stream: nothing to take out
        let (s0, _) = r.map(10, 0, now).expect("first");
        r.skip(11);
        r.skip(12);
        assert_eq!(r.map(13, 0, now).map(|m| m.0), Some(s0 + 1));
        assert_eq!(r.map(12, 0, now), None, "a copy of a skipped packet");
        r.skip(15);
        // 14 arrives after 15 was skipped: its place is still before.
        assert_eq!(r.map(16, 0, now).map(|m| m.0), Some(s0 + 3));
        assert_eq!(r.map(14, 0, now).map(|m| m.0), Some(s0 + 2));
        // Past the kept skips, the oldest fold into the offset and still count.
        for n in 0..(SKIPS_KEPT as u64 + 10) {
            r.skip(100 + 2 * n);
        }
        let last = 100 + 2 * (SKIPS_KEPT as u64 + 10);
        let (seq, _) = r.map(last, 0, now).expect("after the skips");
        assert_eq!(seq, s0 + (last - 10) - 3 - (SKIPS_KEPT as u64 + 10));
        assert_eq!(r.map(100, 0, now), None, "older than a folded skip");
    }

    #[test]
    fn a_handover_continues_the_stream() {
        let t0 = Instant::now();
        let mut first = Rewriter::new(MediaKind::Audio);
        first.map(500, 1_000, t0).expect("first source");
        let (last_seq, last_ts) = first.map(502, 2_920, t0).expect("first source");
        // A late, reordered packet does not move the end of the stream back.
        first.map(501, 1_960, t0).expect("reordered");
        let mut next = first.handover();
        let later = t0 + Duration::from_millis(250);
        let (seq, ts) = next.map(9_000, 77, later).expect("second source");
        assert_eq!(seq, last_seq + 1);
        assert_eq!(ts.wrapping_sub(last_ts), 12_000, "250 ms at 48 kHz");
        let (seq2, ts2) = next.map(9_001, 77 + 960, later).expect("second source");
        assert_eq!((seq2, ts2.wrapping_sub(ts)), (seq + 1, 960));
        assert!(
            next.map(8_999, 0, later).is_none(),
            "nothing of the new source maps before its first packet"
        );
    }
}
