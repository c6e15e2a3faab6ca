//! The sfu's counters as a Prometheus [`Collector`]: openchatd registers
//! [`Sfu::collector`](crate::Sfu::collector) in its registry and every scrape reads one
//! [`StatsSnapshot`]. Names, help and types are stated here once, next to the counters.

use prometheus::core::{Collector, Desc};
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};

use crate::latency::{BUCKET_BOUNDS_US, LatencySnapshot};
use crate::stats::StatsSnapshot;

/// Where a scrape reads its snapshot from.
type Source = Box<dyn Fn() -> StatsSnapshot + Send + Sync>;

/// One scalar metric: name, help, type and how to read it from a snapshot.
struct Scalar {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    read: fn(&StatsSnapshot) -> u64,
}

const SCALARS: [Scalar; 20] = [
    counter(
        "openchat_sfu_packets_in_total",
        "RTP packets received from publishers",
        |s| s.packets_in,
    ),
    counter(
        "openchat_sfu_bytes_in_total",
        "RTP payload bytes received",
        |s| s.bytes_in,
    ),
    counter(
        "openchat_sfu_packets_forwarded_total",
        "RTP packets forwarded to subscribers",
        |s| s.packets_forwarded,
    ),
    counter(
        "openchat_sfu_bytes_forwarded_total",
        "RTP payload bytes forwarded",
        |s| s.bytes_forwarded,
    ),
    counter(
        "openchat_sfu_packets_dropped_policy_total",
        "RTP packets dropped by media policy",
        |s| s.packets_dropped_policy,
    ),
    counter(
        "openchat_sfu_datagrams_unroutable_total",
        "Datagrams from unknown sources",
        |s| s.datagrams_unroutable,
    ),
    counter(
        "openchat_sfu_datagrams_rejected_total",
        "Datagrams a peer refused",
        |s| s.datagrams_rejected,
    ),
    counter(
        "openchat_sfu_datagrams_sent_total",
        "UDP datagrams sent",
        |s| s.datagrams_sent,
    ),
    counter("openchat_sfu_send_batches_total", "sendmmsg calls", |s| {
        s.send_batches
    }),
    counter(
        "openchat_sfu_connect_timeouts_total",
        "Peers removed because their media did not connect within the connect bound",
        |s| s.connect_timeouts,
    ),
    gauge("openchat_sfu_peers", "Live peers", |s| s.peers),
    gauge("openchat_sfu_rooms", "Live rooms", |s| s.rooms),
    counter(
        "openchat_sfu_negotiations_failed_total",
        "Peers ended because a negotiation could not complete (negotiation_failed, negotiation_timeout)",
        |s| s.negotiations_failed,
    ),
    counter(
        "openchat_sfu_sections_reused_total",
        "Remote tracks that took over an idle m-line of a subscriber, with no new offer",
        |s| s.sections_reused,
    ),
    counter(
        "openchat_sfu_packets_dropped_codec_total",
        "Packet copies not forwarded: the subscriber cannot receive the publisher's codec",
        |s| s.packets_dropped_codec,
    ),
    counter(
        "openchat_sfu_keyframe_requests_received_total",
        "Keyframe requests (PLI, FIR) received from subscribers",
        |s| s.keyframe_requests_received,
    ),
    counter(
        "openchat_sfu_keyframe_requests_sent_total",
        "Keyframe requests (PLI) sent to publishers, at most one per track per interval",
        |s| s.keyframe_requests_sent,
    ),
    counter(
        "openchat_sfu_layer_switches_total",
        "Simulcast layer switches of subscribers' streams, each on a keyframe",
        |s| s.layer_switches,
    ),
    counter(
        "openchat_sfu_temporal_layer_drops_total",
        "Video packets of temporal layers a subscriber's bandwidth does not carry, not sent to it",
        |s| s.temporal_drops,
    ),
    counter(
        "openchat_sfu_dynacast_updates_total",
        "Words to publishers on which of their layers anyone receives (publish_layers)",
        |s| s.dynacast_updates,
    ),
];

const fn counter(
    name: &'static str,
    help: &'static str,
    read: fn(&StatsSnapshot) -> u64,
) -> Scalar {
    Scalar {
        name,
        help,
        kind: MetricType::COUNTER,
        read,
    }
}

const fn gauge(name: &'static str, help: &'static str, read: fn(&StatsSnapshot) -> u64) -> Scalar {
    Scalar {
        name,
        help,
        kind: MetricType::GAUGE,
        read,
    }
}

const DTLS_FAILURES: (&str, &str) = (
    "openchat_sfu_dtls_failures_total",
    "Peers ended with dtls_failed, by reason",
);
const FORWARD_LATENCY: (&str, &str) = (
    "openchat_sfu_forward_latency_seconds",
    "Added forwarding latency: publisher datagram read to copies sent",
);

/// The sfu's metrics, read from a snapshot at each scrape.
pub struct StatsCollector {
    source: Source,
    descs: Vec<Desc>,
}

impl StatsCollector {
    /// A collector reading `source` at each scrape.
    pub fn new(source: impl Fn() -> StatsSnapshot + Send + Sync + 'static) -> StatsCollector {
        let mut descs: Vec<Desc> = SCALARS
            .iter()
            .filter_map(|m| desc(m.name, m.help, vec![]))
            .collect();
        descs.extend(desc(
            DTLS_FAILURES.0,
            DTLS_FAILURES.1,
            vec!["reason".into()],
        ));
        descs.extend(desc(FORWARD_LATENCY.0, FORWARD_LATENCY.1, vec![]));
        StatsCollector {
            source: Box::new(source),
            descs,
        }
    }
}

fn desc(name: &str, help: &str, labels: Vec<String>) -> Option<Desc> {
    Desc::new(name.into(), help.into(), labels, Default::default()).ok()
}

fn family(name: &str, help: &str, kind: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    let mut family = MetricFamily::default();
    family.set_name(name.into());
    family.set_help(help.into());
    family.set_field_type(kind);
    family.set_metric(metrics);
    family
}

fn scalar_metric(kind: MetricType, value: u64) -> Metric {
    let mut metric = Metric::default();
    if kind == MetricType::GAUGE {
        let mut gauge = Gauge::default();
        gauge.set_value(value as f64);
        metric.set_gauge(gauge);
    } else {
        let mut counter = Counter::default();
        counter.set_value(value as f64);
        metric.set_counter(counter);
    }
    metric
}

fn dtls_failures(snapshot: &StatsSnapshot) -> MetricFamily {
    let metrics = snapshot
        .dtls_failures_by_reason()
        .map(|(reason, count)| {
            let mut label = LabelPair::default();
            label.set_name("reason".into());
            label.set_value(reason.into());
            let mut metric = scalar_metric(MetricType::COUNTER, count);
            metric.set_label(vec![label]);
            metric
        })
        .collect();
    family(
        DTLS_FAILURES.0,
        DTLS_FAILURES.1,
        MetricType::COUNTER,
        metrics,
    )
}

fn forward_latency(latency: &LatencySnapshot) -> MetricFamily {
    let mut cumulative = 0;
    let buckets = latency
        .buckets
        .iter()
        .zip(BUCKET_BOUNDS_US)
        .map(|(count, bound_us)| {
            cumulative += count;
            let mut bucket = Bucket::default();
            bucket.set_cumulative_count(cumulative);
            bucket.set_upper_bound(bound_us as f64 / 1e6);
            bucket
        })
        .collect();
    let mut histogram = Histogram::default();
    histogram.set_bucket(buckets);
    histogram.set_sample_count(latency.count());
    histogram.set_sample_sum(latency.sum_ns as f64 / 1e9);
    let mut metric = Metric::default();
    metric.set_histogram(histogram);
    family(
        FORWARD_LATENCY.0,
        FORWARD_LATENCY.1,
        MetricType::HISTOGRAM,
        vec![metric],
    )
}

impl Collector for StatsCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let snapshot = (self.source)();
        let mut families: Vec<MetricFamily> = SCALARS
            .iter()
            .map(|m| {
                family(
                    m.name,
                    m.help,
                    m.kind,
                    vec![scalar_metric(m.kind, (m.read)(&snapshot))],
                )
            })
            .collect();
        families.push(dtls_failures(&snapshot));
        families.push(forward_latency(&snapshot.forward_latency));
        families
    }
}

#[cfg(test)]
mod tests {
    use prometheus::{Encoder, Registry, TextEncoder};

    use super::*;
    use crate::DtlsFailureReason;

    fn exposition(snapshot: StatsSnapshot) -> String {
        let registry = Registry::new();
        registry
            .register(Box::new(StatsCollector::new(move || snapshot)))
            .expect("the descriptors are valid and distinct");
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&registry.gather(), &mut text)
            .expect("encodes");
        String::from_utf8(text).expect("utf-8")
    }

    #[test]
    fn scalars_carry_their_type_and_value() {
        let snapshot = StatsSnapshot {
            packets_forwarded: 42,
            peers: 3,
            ..StatsSnapshot::default()
        };
        let text = exposition(snapshot);
        assert!(text.contains("# TYPE openchat_sfu_packets_forwarded_total counter\n"));
        assert!(text.contains("openchat_sfu_packets_forwarded_total 42\n"));
        assert!(text.contains("# TYPE openchat_sfu_peers gauge\nopenchat_sfu_peers 3\n"));
        for scalar in &SCALARS {
            assert!(
                text.contains(&format!("# HELP {} ", scalar.name)),
                "{}",
                scalar.name
            );
        }
    }

    #[test]
    fn dtls_failures_are_listed_by_reason() {
        let mut snapshot = StatsSnapshot::default();
        snapshot.dtls_failures[DtlsFailureReason::FingerprintMismatch.index()] = 3;
        let text = exposition(snapshot);
        assert!(text.contains("# TYPE openchat_sfu_dtls_failures_total counter\n"));
        assert!(
            text.contains("openchat_sfu_dtls_failures_total{reason=\"fingerprint_mismatch\"} 3\n")
        );
        assert!(text.contains("openchat_sfu_dtls_failures_total{reason=\"peer_alert\"} 0\n"));
    }

    #[test]
    fn forward_latency_is_a_cumulative_histogram() {
        let mut snapshot = StatsSnapshot::default();
        let latency = &mut snapshot.forward_latency;
        latency.buckets[0] = 2; // <= 10 us
        latency.buckets[3] = 1; // <= 100 us
        latency.buckets[crate::latency::BUCKETS - 1] = 1; // unbounded
        latency.sum_ns = 3_000_000;
        let text = exposition(snapshot);
        let name = "openchat_sfu_forward_latency_seconds";
        assert!(text.contains(&format!("# TYPE {name} histogram")));
        assert!(text.contains(&format!("{name}_bucket{{le=\"0.00001\"}} 2\n")));
        assert!(text.contains(&format!("{name}_bucket{{le=\"0.0001\"}} 3\n")));
        assert!(text.contains(&format!("{name}_bucket{{le=\"0.1\"}} 3\n")));
        assert!(text.contains(&format!("{name}_bucket{{le=\"+Inf\"}} 4\n")));
        assert!(text.contains(&format!("{name}_sum 0.003\n")));
        assert!(text.contains(&format!("{name}_count 4\n")));
    }
}
