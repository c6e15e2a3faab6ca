//! Connection counters for `/metrics`: open connections, refusals by reason, timeouts by kind.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use control::websocket::{ServerClose, SocketKind, SocketStats};

use super::table::Refusal;

/// Which HTTP-level deadline closed a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutKind {
    /// `http.header_read_timeout_secs`: a silent new connection or an unfinished request head.
    Header,
    /// `http.keep_alive_timeout_secs`: an idle keep-alive connection.
    KeepAlive,
    /// `http.ws_upgrade_timeout_secs`: a WebSocket upgrade not answered in time.
    WsUpgrade,
}

impl TimeoutKind {
    /// Every kind, in label order.
    pub const ALL: [TimeoutKind; 3] = [
        TimeoutKind::Header,
        TimeoutKind::KeepAlive,
        TimeoutKind::WsUpgrade,
    ];

    /// The `/metrics` label.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeoutKind::Header => "header",
            TimeoutKind::KeepAlive => "keep_alive",
            TimeoutKind::WsUpgrade => "ws_upgrade",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Counters of the HTTP listener.
#[derive(Debug, Default)]
pub struct ConnStats {
    open: AtomicU64,
    accepted: AtomicU64,
    refused: [AtomicU64; 2],
    timeouts: [AtomicU64; 3],
    dropped_at_stop: AtomicU64,
}

impl ConnStats {
    pub(super) fn opened(&self) {
        self.open.fetch_add(1, Ordering::Relaxed);
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn closed(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    pub(super) fn refused(&self, why: Refusal) {
        let i = match why {
            Refusal::PerIp => 0,
            Refusal::Total => 1,
        };
        self.refused[i].fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn timed_out(&self, kind: TimeoutKind) {
        self.timeouts[kind.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn dropped_at_stop(&self) {
        self.dropped_at_stop.fetch_add(1, Ordering::Relaxed);
    }

    /// Open connections (WebSockets included).
    pub fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    /// Connections refused for `why`.
    pub fn refusals(&self, why: Refusal) -> u64 {
        let i = match why {
            Refusal::PerIp => 0,
            Refusal::Total => 1,
        };
        self.refused[i].load(Ordering::Relaxed)
    }

    /// Connections closed by the `kind` deadline.
    pub fn timeouts(&self, kind: TimeoutKind) -> u64 {
        self.timeouts[kind.index()].load(Ordering::Relaxed)
    }

    /// Appends the text exposition of the listener's and the WebSockets' counters. Idle
    /// WebSockets closed by the server count as timeouts of kind `ws_idle`.
    pub fn render(&self, text: &mut String, sockets: &SocketStats) {
        let _ = write!(
            text,
            "# HELP openchat_http_connections Open HTTP connections, WebSockets included\n\
             # TYPE openchat_http_connections gauge\n\
             openchat_http_connections {}\n\
             # HELP openchat_http_connections_accepted_total Connections admitted\n\
             # TYPE openchat_http_connections_accepted_total counter\n\
             openchat_http_connections_accepted_total {}\n\
             # HELP openchat_http_connections_refused_total Connections refused at accept, by limit\n\
             # TYPE openchat_http_connections_refused_total counter\n",
            self.open(),
            self.accepted.load(Ordering::Relaxed),
        );
        for why in Refusal::ALL {
            let _ = writeln!(
                text,
                "openchat_http_connections_refused_total{{reason=\"{}\"}} {}",
                why.as_str(),
                self.refusals(why)
            );
        }
        let _ = write!(
            text,
            "# HELP openchat_http_timeouts_total Connections closed by a deadline, by kind\n\
             # TYPE openchat_http_timeouts_total counter\n"
        );
        for kind in TimeoutKind::ALL {
            let _ = writeln!(
                text,
                "openchat_http_timeouts_total{{kind=\"{}\"}} {}",
                kind.as_str(),
                self.timeouts(kind)
            );
        }
        let ws_idle: u64 = SocketKind::ALL
            .iter()
            .map(|k| sockets.closes(*k, ServerClose::IdleTimeout))
            .sum();
        let _ = write!(
            text,
            "openchat_http_timeouts_total{{kind=\"ws_idle\"}} {ws_idle}\n\
             # HELP openchat_http_dropped_at_stop_total Idle or half-sent connections dropped by a graceful stop\n\
             # TYPE openchat_http_dropped_at_stop_total counter\n\
             openchat_http_dropped_at_stop_total {}\n\
             # HELP openchat_ws_server_closes_total WebSockets the server closed, by socket and cause\n\
             # TYPE openchat_ws_server_closes_total counter\n",
            self.dropped_at_stop.load(Ordering::Relaxed)
        );
        for kind in SocketKind::ALL {
            for cause in ServerClose::ALL {
                let _ = writeln!(
                    text,
                    "openchat_ws_server_closes_total{{socket=\"{}\",cause=\"{}\"}} {}",
                    kind.as_str(),
                    cause.as_str(),
                    sockets.closes(kind, cause)
                );
            }
        }
    }
}
