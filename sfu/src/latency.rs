//! Added forwarding latency: from the moment a worker read a publisher's datagram to the moment
//! the `sendmmsg` carrying the last of its copies returned. One histogram per worker (single
//! writer, relaxed atomics), summed by [`SfuStats`](crate::SfuStats) and exposed by openchatd as
//! the Prometheus histogram `openchat_sfu_forward_latency_seconds`.
//!
//! Time the datagram spent in the socket's receive queue before the worker read it is not
//! included (a busy worker shows up in CPU figures, not here).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, microseconds (a last, unbounded bucket follows).
pub const BUCKET_BOUNDS_US: [u64; 14] = [
    10, 20, 50, 100, 200, 300, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000,
];
/// Buckets including the unbounded one.
pub const BUCKETS: usize = BUCKET_BOUNDS_US.len() + 1;

/// One worker's histogram. Written only by that worker.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    buckets: [AtomicU64; BUCKETS],
    sum_ns: AtomicU64,
}

impl LatencyHistogram {
    /// Records one sample (single writer: load + store, no locked instruction).
    pub(crate) fn observe(&self, latency: Duration) {
        let us = latency.as_micros();
        let index = BUCKET_BOUNDS_US
            .iter()
            .position(|bound| us <= u128::from(*bound))
            .unwrap_or(BUCKETS - 1);
        let bump =
            |c: &AtomicU64, n: u64| c.store(c.load(Ordering::Relaxed) + n, Ordering::Relaxed);
        bump(&self.buckets[index], 1);
        bump(
            &self.sum_ns,
            u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX),
        );
    }

    /// Adds this histogram's counts to `into`.
    pub(crate) fn add_to(&self, into: &mut LatencySnapshot) {
        for (total, bucket) in into.buckets.iter_mut().zip(&self.buckets) {
            *total += bucket.load(Ordering::Relaxed);
        }
        into.sum_ns += self.sum_ns.load(Ordering::Relaxed);
    }
}

/// Histogram counts at one moment (per bucket, not cumulative).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencySnapshot {
    /// Samples per bucket; bucket `i` holds samples `<= BUCKET_BOUNDS_US[i]` and above the
    /// previous bound; the last bucket is unbounded.
    pub buckets: [u64; BUCKETS],
    /// Sum of every sample, nanoseconds.
    pub sum_ns: u64,
}

impl LatencySnapshot {
    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_land_in_their_buckets() {
        let h = LatencyHistogram::default();
        h.observe(Duration::from_micros(5));
        h.observe(Duration::from_micros(10));
        h.observe(Duration::from_micros(11));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(2));
        let mut s = LatencySnapshot::default();
        h.add_to(&mut s);
        assert_eq!(s.count(), 5);
        assert_eq!(s.buckets[0], 2, "<= 10 us");
        assert_eq!(s.buckets[1], 1, "<= 20 us");
        assert_eq!(s.buckets[9], 1, "<= 5 ms");
        assert_eq!(s.buckets[BUCKETS - 1], 1, "unbounded");
        assert_eq!(s.sum_ns, 2_003_026_000);
    }
}
