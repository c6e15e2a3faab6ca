//! Prometheus metrics: signaling counters, process CPU/memory, and the sfu's packet counters.

use std::fmt::Write;

use prometheus::{Encoder, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

/// Signaling-side metrics.
pub struct Metrics {
    /// Connection counters of the HTTP listener.
    pub connections: std::sync::Arc<crate::listener::ConnStats>,
    registry: Registry,
    sessions: IntGauge,
    tickets_issued: IntCounter,
    join_refusals: IntCounterVec,
    sessions_ended_by_access: IntCounter,
    auth_refusals: IntCounterVec,
    errors_sent: IntCounterVec,
}

/// Decrements the live-session gauge when dropped.
pub struct SessionGuard<'a>(&'a IntGauge);

impl Drop for SessionGuard<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Metrics {
    /// Registers everything, including the process collector (CPU seconds, resident memory).
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let sessions = IntGauge::new(
            "openchat_signaling_sessions",
            "Open signaling WebSocket sessions",
        )
        .expect("valid metric");
        let tickets_issued =
            IntCounter::new("openchat_join_tickets_issued_total", "Join tickets issued")
                .expect("valid metric");
        let join_refusals = IntCounterVec::new(
            Opts::new(
                "openchat_join_refusals_total",
                "Refused joins and ticket requests by code",
            ),
            &["code"],
        )
        .expect("valid metric");
        let sessions_ended_by_access = IntCounter::new(
            "openchat_signaling_sessions_ended_by_access_total",
            "Live signaling sessions ended because their device was revoked or their user left, \
             was removed from or was banned from the room's server",
        )
        .expect("valid metric");
        let auth_refusals = IntCounterVec::new(
            Opts::new(
                "openchat_auth_refusals_total",
                "Authenticated requests refused after token verification, by code",
            ),
            &["code"],
        )
        .expect("valid metric");
        let errors_sent = IntCounterVec::new(
            Opts::new(
                "openchat_signaling_errors_total",
                "Error frames sent to signaling clients, by code (fatal ones end the session)",
            ),
            &["code"],
        )
        .expect("valid metric");
        for m in [
            Box::new(sessions.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(errors_sent.clone()),
            Box::new(tickets_issued.clone()),
            Box::new(join_refusals.clone()),
            Box::new(sessions_ended_by_access.clone()),
            Box::new(auth_refusals.clone()),
        ] {
            let _ = registry.register(m);
        }
        #[cfg(target_os = "linux")]
        {
            let _ = registry.register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ));
        }
        Metrics {
            connections: Default::default(),
            registry,
            sessions,
            tickets_issued,
            join_refusals,
            sessions_ended_by_access,
            auth_refusals,
            errors_sent,
        }
    }

    /// Counts an `error` frame sent on the signaling WebSocket.
    pub fn error_sent(&self, code: &str) {
        self.errors_sent.with_label_values(&[code]).inc();
    }

    /// Counts live sessions ended by an access change.
    pub fn sessions_ended_by_access(&self, n: u64) {
        self.sessions_ended_by_access.inc_by(n);
    }

    /// Counts an authenticated request refused (e.g. `device_revoked`).
    pub fn auth_refused(&self, code: &str) {
        self.auth_refusals.with_label_values(&[code]).inc();
    }

    /// Counts a session until the guard drops.
    pub fn session_started(&self) -> SessionGuard<'_> {
        self.sessions.inc();
        SessionGuard(&self.sessions)
    }

    /// Counts an issued ticket.
    pub fn ticket_issued(&self) {
        self.tickets_issued.inc();
    }

    /// Counts a refusal by code.
    pub fn join_refused(&self, code: &str) {
        self.join_refusals.with_label_values(&[code]).inc();
    }

    /// The text exposition of every metric, with the connection, WebSocket and sfu counters
    /// appended.
    pub fn render(
        &self,
        sfu: &sfu::StatsSnapshot,
        sockets: &control::websocket::SocketStats,
    ) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        let mut text = String::from_utf8(buf).unwrap_or_default();
        self.connections.render(&mut text, sockets);
        let counters = [
            (
                "openchat_sfu_packets_in_total",
                "counter",
                "RTP packets received from publishers",
                sfu.packets_in,
            ),
            (
                "openchat_sfu_bytes_in_total",
                "counter",
                "RTP payload bytes received",
                sfu.bytes_in,
            ),
            (
                "openchat_sfu_packets_forwarded_total",
                "counter",
                "RTP packets forwarded to subscribers",
                sfu.packets_forwarded,
            ),
            (
                "openchat_sfu_bytes_forwarded_total",
                "counter",
                "RTP payload bytes forwarded",
                sfu.bytes_forwarded,
            ),
            (
                "openchat_sfu_packets_dropped_policy_total",
                "counter",
                "RTP packets dropped by media policy",
                sfu.packets_dropped_policy,
            ),
            (
                "openchat_sfu_datagrams_unroutable_total",
                "counter",
                "Datagrams from unknown sources",
                sfu.datagrams_unroutable,
            ),
            (
                "openchat_sfu_datagrams_rejected_total",
                "counter",
                "Datagrams a peer refused",
                sfu.datagrams_rejected,
            ),
            (
                "openchat_sfu_datagrams_sent_total",
                "counter",
                "UDP datagrams sent",
                sfu.datagrams_sent,
            ),
            (
                "openchat_sfu_send_batches_total",
                "counter",
                "sendmmsg calls",
                sfu.send_batches,
            ),
            (
                "openchat_sfu_connect_timeouts_total",
                "counter",
                "Peers removed because their media did not connect within the connect bound",
                sfu.connect_timeouts,
            ),
            ("openchat_sfu_peers", "gauge", "Live peers", sfu.peers),
            ("openchat_sfu_rooms", "gauge", "Live rooms", sfu.rooms),
            (
                "openchat_sfu_negotiations_failed_total",
                "counter",
                "Peers ended because a negotiation could not complete (negotiation_failed, \
                 negotiation_timeout)",
                sfu.negotiations_failed,
            ),
            (
                "openchat_sfu_sections_reused_total",
                "counter",
                "Remote tracks that took over an idle m-line of a subscriber, with no new offer",
                sfu.sections_reused,
            ),
        ];
        for (name, kind, help, value) in counters {
            let _ = write!(
                text,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
            );
        }
        render_dtls_failures(&mut text, sfu);
        render_forward_latency(&mut text, &sfu.forward_latency);
        text
    }
}

/// `openchat_sfu_dtls_failures_total{reason}`: peers ended with `dtls_failed`, every reason listed.
fn render_dtls_failures(text: &mut String, sfu: &sfu::StatsSnapshot) {
    let name = "openchat_sfu_dtls_failures_total";
    let _ = write!(
        text,
        "# HELP {name} Peers ended with dtls_failed, by reason\n# TYPE {name} counter\n"
    );
    for (reason, count) in sfu.dtls_failures_by_reason() {
        let _ = writeln!(text, "{name}{{reason=\"{reason}\"}} {count}");
    }
}

/// `openchat_sfu_forward_latency_seconds` as a Prometheus histogram (cumulative buckets).
fn render_forward_latency(text: &mut String, latency: &sfu::LatencySnapshot) {
    let name = "openchat_sfu_forward_latency_seconds";
    let _ = write!(
        text,
        "# HELP {name} Added forwarding latency: publisher datagram read to copies sent\n\
         # TYPE {name} histogram\n"
    );
    let mut cumulative = 0u64;
    for (count, bound_us) in latency.buckets.iter().zip(sfu::BUCKET_BOUNDS_US) {
        cumulative += count;
        let le = bound_us as f64 / 1e6;
        let _ = writeln!(text, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
    }
    let count = latency.count();
    let sum = latency.sum_ns as f64 / 1e9;
    let _ = write!(
        text,
        "{name}_bucket{{le=\"+Inf\"}} {count}\n{name}_sum {sum}\n{name}_count {count}\n"
    );
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtls_failures_render_by_reason() {
        let mut sfu = sfu::StatsSnapshot::default();
        let mismatch = sfu::DtlsFailureReason::FingerprintMismatch;
        sfu.dtls_failures[mismatch.index()] = 3;
        let mut text = String::new();
        render_dtls_failures(&mut text, &sfu);
        assert!(text.contains("# TYPE openchat_sfu_dtls_failures_total counter\n"));
        assert!(
            text.contains("openchat_sfu_dtls_failures_total{reason=\"fingerprint_mismatch\"} 3\n")
        );
        assert!(text.contains("openchat_sfu_dtls_failures_total{reason=\"peer_alert\"} 0\n"));
    }

    #[test]
    fn forward_latency_renders_as_a_cumulative_histogram() {
        let mut latency = sfu::LatencySnapshot::default();
        latency.buckets[0] = 2; // <= 10 us
        latency.buckets[3] = 1; // <= 100 us
        latency.buckets[sfu::latency::BUCKETS - 1] = 1; // unbounded
        latency.sum_ns = 3_000_000;
        let mut text = String::new();
        render_forward_latency(&mut text, &latency);
        assert!(text.contains("# TYPE openchat_sfu_forward_latency_seconds histogram"));
        assert!(text.contains("openchat_sfu_forward_latency_seconds_bucket{le=\"0.00001\"} 2\n"));
        assert!(text.contains("openchat_sfu_forward_latency_seconds_bucket{le=\"0.0001\"} 3\n"));
        assert!(text.contains("openchat_sfu_forward_latency_seconds_bucket{le=\"0.1\"} 3\n"));
        assert!(text.contains("openchat_sfu_forward_latency_seconds_bucket{le=\"+Inf\"} 4\n"));
        assert!(text.contains("openchat_sfu_forward_latency_seconds_sum 0.003\n"));
        assert!(text.contains("openchat_sfu_forward_latency_seconds_count 4\n"));
    }
}
