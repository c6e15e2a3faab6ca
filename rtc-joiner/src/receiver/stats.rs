//! RTP reception statistics after RFC 3550: loss from sequence numbers (A.3) and
//! interarrival jitter (A.8).

/// A sequence jump at least this large (forwards) is a resync, not loss.
const MAX_DROPOUT: u16 = 3_000;
/// A sequence this far behind the highest one is a late (reordered) packet.
const MAX_MISORDER: u16 = 100;

/// How a packet relates to the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqStatus {
    /// The first packet of the stream.
    First,
    /// Newer than every packet so far; `missing` packets were skipped before it.
    InOrder {
        /// Sequence numbers skipped between the previous highest and this one.
        missing: u16,
    },
    /// Older than the highest packet seen (reordered or retransmitted).
    Late,
    /// Same sequence number as the highest packet.
    Duplicate,
    /// A jump too large to be loss: the sender restarted its sequence.
    Resync,
}

/// Loss and jitter accounting for one RTP stream.
#[derive(Debug, Clone, Default)]
pub struct RtpStats {
    base_seq: Option<u16>,
    max_seq: u16,
    cycles: u64,
    /// Sequence numbers skipped by resyncs (not counted as expected).
    resync_skipped: u64,
    received: u64,
    jitter: f64,
    last: Option<(f64, u32)>,
}

impl RtpStats {
    /// Accounts one packet with sequence `seq`, RTP timestamp `rtp_timestamp`, arriving at
    /// `arrival` (in RTP clock units, e.g. seconds x 48000).
    pub fn record(&mut self, seq: u16, rtp_timestamp: u32, arrival: f64) -> SeqStatus {
        self.received += 1;
        let status = match self.base_seq {
            None => {
                self.base_seq = Some(seq);
                self.max_seq = seq;
                SeqStatus::First
            }
            Some(_) => {
                let delta = seq.wrapping_sub(self.max_seq);
                if delta == 0 {
                    SeqStatus::Duplicate
                } else if delta < MAX_DROPOUT {
                    if seq < self.max_seq {
                        self.cycles += 1 << 16;
                    }
                    self.max_seq = seq;
                    SeqStatus::InOrder { missing: delta - 1 }
                } else if delta > u16::MAX - MAX_MISORDER {
                    SeqStatus::Late
                } else {
                    if seq < self.max_seq {
                        self.cycles += 1 << 16;
                    }
                    self.resync_skipped += u64::from(delta - 1);
                    self.max_seq = seq;
                    SeqStatus::Resync
                }
            }
        };
        if status != SeqStatus::Duplicate {
            self.update_jitter(rtp_timestamp, arrival);
        }
        status
    }

    fn update_jitter(&mut self, rtp_timestamp: u32, arrival: f64) {
        if let Some((last_arrival, last_ts)) = self.last {
            // D(i,j) = (Rj - Ri) - (Sj - Si), timestamps compared with wrap-around.
            let sent_delta = f64::from(rtp_timestamp.wrapping_sub(last_ts) as i32);
            let d = (arrival - last_arrival) - sent_delta;
            self.jitter += (d.abs() - self.jitter) / 16.0;
        }
        self.last = Some((arrival, rtp_timestamp));
    }

    /// Packets received (duplicates included, as in RFC 3550).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Packets expected from the sequence number range.
    pub fn expected(&self) -> u64 {
        match self.base_seq {
            None => 0,
            Some(base) => {
                let extended_max = self.cycles + u64::from(self.max_seq);
                (extended_max + 1)
                    .saturating_sub(u64::from(base))
                    .saturating_sub(self.resync_skipped)
            }
        }
    }

    /// Packets lost (never negative: duplicates can outnumber losses).
    pub fn lost(&self) -> u64 {
        self.expected().saturating_sub(self.received)
    }

    /// Lost packets as a percentage of expected ones.
    pub fn loss_percent(&self) -> f64 {
        let expected = self.expected();
        if expected == 0 {
            0.0
        } else {
            100.0 * self.lost() as f64 / expected as f64
        }
    }

    /// Interarrival jitter in RTP clock units.
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// Interarrival jitter in milliseconds for a `clock_rate` Hz RTP clock.
    pub fn jitter_ms(&self, clock_rate: u32) -> f64 {
        self.jitter * 1_000.0 / f64::from(clock_rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packets every 20 ms (960 ticks at 48 kHz), arriving exactly on time.
    fn on_time(stats: &mut RtpStats, seqs: impl IntoIterator<Item = u16>, first_ts: u32) {
        for seq in seqs {
            let n = u32::from(seq);
            stats.record(seq, first_ts.wrapping_add(960 * n), f64::from(n) * 960.0);
        }
    }

    #[test]
    fn no_loss_no_jitter() {
        let mut stats = RtpStats::default();
        on_time(&mut stats, 0..100, 5);
        assert_eq!(stats.expected(), 100);
        assert_eq!(stats.lost(), 0);
        assert_eq!(stats.jitter(), 0.0);
    }

    #[test]
    fn gaps_count_as_loss() {
        let mut stats = RtpStats::default();
        let seqs: Vec<u16> = (0..100).filter(|s| s % 10 != 3).collect();
        on_time(&mut stats, seqs, 0);
        assert_eq!(stats.expected(), 100);
        assert_eq!(stats.lost(), 10);
        assert!((stats.loss_percent() - 10.0).abs() < 1e-9);
    }

    #[test]
    fn sequence_wraps_around() {
        let mut stats = RtpStats::default();
        let mut status = Vec::new();
        for (i, seq) in (65_530u16..=65_535).chain(0..10).enumerate() {
            status.push(stats.record(seq, 960 * i as u32, 960.0 * i as f64));
        }
        assert_eq!(stats.expected(), 16);
        assert_eq!(stats.lost(), 0);
        assert!(
            status[1..]
                .iter()
                .all(|s| *s == SeqStatus::InOrder { missing: 0 })
        );
    }

    #[test]
    fn reordered_and_duplicate_packets() {
        let mut stats = RtpStats::default();
        assert_eq!(stats.record(10, 0, 0.0), SeqStatus::First);
        assert_eq!(
            stats.record(12, 1920, 1920.0),
            SeqStatus::InOrder { missing: 1 }
        );
        assert_eq!(stats.record(11, 960, 1930.0), SeqStatus::Late);
        assert_eq!(stats.record(12, 1920, 1940.0), SeqStatus::Duplicate);
        assert_eq!(stats.expected(), 3);
        // 4 received (one duplicate) vs 3 expected: loss clamps at zero.
        assert_eq!(stats.lost(), 0);
    }

    #[test]
    fn constant_delay_variation_converges_to_rfc_value() {
        // Every other packet arrives 10 ms (480 ticks) late: |D| = 480 for every pair,
        // so J converges to 480 ticks = 10 ms.
        let mut stats = RtpStats::default();
        for n in 0..2_000u32 {
            let late = if n % 2 == 1 { 480.0 } else { 0.0 };
            stats.record(n as u16, 960 * n, f64::from(960 * n) + late);
        }
        assert!((stats.jitter() - 480.0).abs() < 1e-6, "{}", stats.jitter());
        assert!((stats.jitter_ms(48_000) - 10.0).abs() < 1e-6);
    }

    #[test]
    fn jitter_first_step_matches_the_formula() {
        let mut stats = RtpStats::default();
        stats.record(0, 1_000, 0.0);
        // Sent 960 ticks later, arrived 1_120 ticks later: D = 160, J = 160 / 16 = 10.
        stats.record(1, 1_960, 1_120.0);
        assert!((stats.jitter() - 10.0).abs() < 1e-9);
        // Timestamps that wrap are compared modulo 2^32.
        let mut wrap = RtpStats::default();
        wrap.record(0, u32::MAX - 479, 0.0);
        wrap.record(1, 480, 960.0);
        assert_eq!(wrap.jitter(), 0.0);
    }

    #[test]
    fn big_jump_is_a_resync_not_loss() {
        let mut stats = RtpStats::default();
        on_time(&mut stats, 0..10, 0);
        assert_eq!(stats.record(20_000, 0, 0.0), SeqStatus::Resync);
        stats.record(20_001, 960, 960.0);
        assert_eq!(stats.lost(), 0);
        assert_eq!(stats.expected(), 12);
    }
}
