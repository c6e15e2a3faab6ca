//! The RFC 6455 close codes the server sends, and why a server may go away.

use serde::Serialize;

/// 1000: normal closure (the session ended as asked, e.g. after a signaling `leave`).
pub const NORMAL: u16 = 1000;
/// 1001: going away. The process stops or drains; the reason is a [`GoingAwayReason`]. The
/// client should reconnect (after a short, jittered delay).
pub const GOING_AWAY: u16 = 1001;
/// 1009: message too big. A frame exceeded the socket's limit; the reason states the limit.
pub const MESSAGE_TOO_BIG: u16 = 1009;
/// 4000: the session ended on an error; the reason is the error's stable code (signaling's
/// fatal codes such as `kicked` or `keepalive_timeout`; `idle_timeout` on both sockets).
pub const SESSION_ERROR: u16 = 4000;

/// Why the server closes its WebSockets with [`GOING_AWAY`]. Sent as the close reason and in
/// signaling's `going_away` frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GoingAwayReason {
    /// The process is stopping (SIGTERM, SIGINT).
    Shutdown,
    /// The node is draining: it finishes what it has and takes nothing new; reconnect elsewhere.
    Drain,
}

impl GoingAwayReason {
    /// The wire name (`shutdown`, `drain`).
    pub fn as_str(self) -> &'static str {
        match self {
            GoingAwayReason::Shutdown => "shutdown",
            GoingAwayReason::Drain => "drain",
        }
    }
}

impl std::fmt::Display for GoingAwayReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
