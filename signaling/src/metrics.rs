//! Prometheus metrics: signaling counters, process CPU/memory, and the sfu's collector.

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
    server_mutes_applied: IntCounter,
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
             was removed from, kicked, timed out or banned from the room's server",
        )
        .expect("valid metric");
        let server_mutes_applied = IntCounter::new(
            "openchat_signaling_server_mutes_applied_total",
            "Live room sessions a moderation mute or unmute was applied to on this node",
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
            Box::new(server_mutes_applied.clone()),
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
            server_mutes_applied,
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

    /// Counts live room sessions a server mute or unmute reached.
    pub fn server_mutes_applied(&self, n: u64) {
        self.server_mutes_applied.inc_by(n);
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

    /// Adds the sfu's counters (its [`sfu::StatsCollector`]) to the registry.
    pub fn with_sfu(sfu: &sfu::Sfu) -> Metrics {
        let metrics = Metrics::new();
        if let Err(e) = metrics.registry.register(Box::new(sfu.collector())) {
            tracing::warn!(error = %e, "the sfu's metrics could not be registered");
        }
        metrics
    }

    /// The text exposition of every registered metric, with the connection and WebSocket
    /// counters appended.
    pub fn render(&self, sockets: &control::websocket::SocketStats) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        let mut text = String::from_utf8(buf).unwrap_or_default();
        self.connections.render(&mut text, sockets);
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
