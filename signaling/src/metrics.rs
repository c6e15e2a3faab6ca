//! Prometheus metrics: signaling counters, process CPU/memory, and the sfu's packet counters.

use std::fmt::Write;

use prometheus::{Encoder, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

/// Signaling-side metrics.
pub struct Metrics {
    registry: Registry,
    sessions: IntGauge,
    tickets_issued: IntCounter,
    join_refusals: IntCounterVec,
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
        for m in [
            Box::new(sessions.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(tickets_issued.clone()),
            Box::new(join_refusals.clone()),
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
            registry,
            sessions,
            tickets_issued,
            join_refusals,
        }
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

    /// The text exposition of every metric, with the sfu's counters appended.
    pub fn render(&self, sfu: &sfu::StatsSnapshot) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        let mut text = String::from_utf8(buf).unwrap_or_default();
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
            ("openchat_sfu_peers", "gauge", "Live peers", sfu.peers),
            ("openchat_sfu_rooms", "gauge", "Live rooms", sfu.rooms),
        ];
        for (name, kind, help, value) in counters {
            let _ = write!(
                text,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
            );
        }
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
