//! What the load reads from the server's Prometheus endpoint at both ends of the window: the
//! forwarded-packet counter and the added-forwarding-latency histogram
//! (`openchat_sfu_forward_latency_seconds`, measured inside the server from datagram read to
//! send). Both are optional: another server (Janus) has neither.

use super::summary::ForwardLatencyMs;

/// The forwarded-packet counter.
pub const FORWARDED: &str = "openchat_sfu_packets_forwarded_total";
/// The forwarding-latency histogram.
pub const FORWARD_LATENCY: &str = "openchat_sfu_forward_latency_seconds";
/// Keyframe requests (PLI) the server sent to publishers.
pub const KEYFRAME_REQUESTS_SENT: &str = "openchat_sfu_keyframe_requests_sent_total";

/// One scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerMetrics {
    /// Packets forwarded so far.
    pub forwarded: Option<u64>,
    /// Keyframe requests sent to publishers so far.
    pub keyframe_requests_sent: Option<u64>,
    /// Cumulative histogram buckets: (upper bound in seconds, samples at or below it), the
    /// last one `+Inf`.
    pub latency_buckets: Vec<(f64, u64)>,
}

/// The value of an unlabelled counter in Prometheus text format.
pub fn parse_counter(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let value = rest.strip_prefix(' ')?.trim();
        value.parse::<f64>().ok().map(|v| v as u64)
    })
}

impl ServerMetrics {
    /// Reads both from a text exposition.
    pub fn parse(text: &str) -> Self {
        let prefix = format!("{FORWARD_LATENCY}_bucket{{le=\"");
        let latency_buckets = text
            .lines()
            .filter_map(|line| {
                let rest = line.strip_prefix(&prefix)?;
                let (le, value) = rest.split_once("\"} ")?;
                let bound = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().ok()?
                };
                Some((bound, value.trim().parse::<f64>().ok()? as u64))
            })
            .collect();
        Self {
            forwarded: parse_counter(text, FORWARDED),
            keyframe_requests_sent: parse_counter(text, KEYFRAME_REQUESTS_SENT),
            latency_buckets,
        }
    }

    /// The latency distribution of the samples taken between `earlier` and `self`.
    pub fn latency_since(&self, earlier: &ServerMetrics) -> Option<ForwardLatencyMs> {
        let buckets: Vec<(f64, u64)> = self
            .latency_buckets
            .iter()
            .zip(&earlier.latency_buckets)
            .map(|((bound, now), (_, before))| (*bound, now.saturating_sub(*before)))
            .collect();
        let count = buckets.last()?.1;
        if count == 0 || buckets.len() != self.latency_buckets.len() {
            return None;
        }
        let quantile_ms = |q: f64| quantile(&buckets, q).map(|s| s * 1e3);
        Some(ForwardLatencyMs {
            count,
            p50: quantile_ms(0.50),
            p99: quantile_ms(0.99),
        })
    }
}

/// Prometheus-style quantile of cumulative buckets: linear within the bucket that holds the
/// rank; a rank in the `+Inf` bucket reports the largest finite bound.
fn quantile(cumulative: &[(f64, u64)], q: f64) -> Option<f64> {
    let total = cumulative.last()?.1 as f64;
    let rank = q * total;
    let mut lower = (0.0, 0u64);
    for &(bound, count) in cumulative {
        if count as f64 >= rank {
            if bound.is_infinite() {
                return Some(lower.0);
            }
            let in_bucket = (count - lower.1) as f64;
            let fraction = if in_bucket > 0.0 {
                (rank - lower.1 as f64) / in_bucket
            } else {
                1.0
            };
            return Some(lower.0 + (bound - lower.0) * fraction);
        }
        lower = (bound, count);
    }
    Some(lower.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# TYPE openchat_sfu_forward_latency_seconds histogram\n\
        openchat_sfu_forward_latency_seconds_bucket{le=\"0.0001\"} 50\n\
        openchat_sfu_forward_latency_seconds_bucket{le=\"0.001\"} 99\n\
        openchat_sfu_forward_latency_seconds_bucket{le=\"+Inf\"} 100\n\
        openchat_sfu_forward_latency_seconds_count 100\n\
        openchat_sfu_packets_forwarded_total_other 5\n\
        openchat_sfu_packets_forwarded_total 12345\n\
        openchat_sfu_keyframe_requests_sent_total 7\n";

    #[test]
    fn parses_the_counter_and_the_histogram() {
        let m = ServerMetrics::parse(TEXT);
        assert_eq!(m.forwarded, Some(12_345));
        assert_eq!(m.keyframe_requests_sent, Some(7));
        assert_eq!(
            m.latency_buckets,
            vec![(0.0001, 50), (0.001, 99), (f64::INFINITY, 100)]
        );
        assert_eq!(ServerMetrics::parse("nothing").forwarded, None);
    }

    #[test]
    fn quantiles_of_the_window_only() {
        let before = ServerMetrics {
            forwarded: None,
            keyframe_requests_sent: None,
            latency_buckets: vec![(0.0001, 10), (0.001, 10), (f64::INFINITY, 10)],
        };
        let after = ServerMetrics::parse(TEXT);
        let l = after.latency_since(&before).expect("samples");
        assert_eq!(l.count, 90);
        // 45th of 90 samples: 45 of the 40 in (0, 100 us] ... lands in the second bucket.
        let p50 = l.p50.expect("p50");
        assert!((p50 - 0.1 - 0.9 * 5.0 / 49.0).abs() < 1e-9, "{p50}");
        let p99 = l.p99.expect("p99");
        assert!(p99 <= 1.0 && p99 > 0.9, "{p99}");
        assert!(after.latency_since(&after).is_none(), "no samples");
    }

    #[test]
    fn a_rank_in_the_unbounded_bucket_reports_the_largest_bound() {
        let q = quantile(&[(0.001, 1), (f64::INFINITY, 10)], 0.99);
        assert_eq!(q, Some(0.001));
    }
}
