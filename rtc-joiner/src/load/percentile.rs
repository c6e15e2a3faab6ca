//! Percentiles of latency samples (nearest-rank method).

use serde::Serialize;

/// The nearest-rank `p`-th percentile (0 < p <= 100) of `sorted` (ascending): the smallest
/// value such that at least `p`% of the samples are less than or equal to it.
pub fn nearest_rank<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() || !(p > 0.0 && p <= 100.0) {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// Summary of a latency distribution, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencyMs {
    /// Number of samples.
    pub count: usize,
    /// Median.
    pub p50: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Largest sample.
    pub max: Option<f64>,
}

impl LatencyMs {
    /// From samples in milliseconds (any order; NaNs are dropped).
    pub fn from_ms(mut samples: Vec<f64>) -> Self {
        samples.retain(|v| !v.is_nan());
        samples.sort_by(f64::total_cmp);
        Self {
            count: samples.len(),
            p50: nearest_rank(&samples, 50.0),
            p95: nearest_rank(&samples, 95.0),
            p99: nearest_rank(&samples, 99.0),
            max: samples.last().copied(),
        }
    }

    /// From samples in microseconds (any order).
    pub fn from_us(mut samples: Vec<u32>) -> Self {
        samples.sort_unstable();
        let ms = |v: Option<u32>| v.map(|us| f64::from(us) / 1e3);
        Self {
            count: samples.len(),
            p50: ms(nearest_rank(&samples, 50.0)),
            p95: ms(nearest_rank(&samples, 95.0)),
            p99: ms(nearest_rank(&samples, 99.0)),
            max: ms(samples.last().copied()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_matches_the_textbook_examples() {
        // Wikipedia's "nearest-rank method" example.
        let v = [15, 20, 35, 40, 50];
        assert_eq!(nearest_rank(&v, 5.0), Some(15));
        assert_eq!(nearest_rank(&v, 30.0), Some(20));
        assert_eq!(nearest_rank(&v, 40.0), Some(20));
        assert_eq!(nearest_rank(&v, 50.0), Some(35));
        assert_eq!(nearest_rank(&v, 100.0), Some(50));
        assert_eq!(nearest_rank::<u32>(&[], 50.0), None);
        assert_eq!(nearest_rank(&v, 0.0), None);
        assert_eq!(nearest_rank(&v, 101.0), None);
    }

    #[test]
    fn p99_of_a_hundred_samples_is_the_99th() {
        let samples: Vec<u32> = (1..=100).rev().map(|v| v * 1000).collect();
        let l = LatencyMs::from_us(samples);
        assert_eq!(l.count, 100);
        assert_eq!(l.p50, Some(50.0));
        assert_eq!(l.p95, Some(95.0));
        assert_eq!(l.p99, Some(99.0));
        assert_eq!(l.max, Some(100.0));
        let empty = LatencyMs::from_ms(vec![f64::NAN]);
        assert_eq!(empty.count, 0);
        assert_eq!(empty.p50, None);
    }
}
