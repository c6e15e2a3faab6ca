//! Shared application state handed to every handler.

use std::sync::Arc;

use control::Control;
use sfu::Sfu;

use crate::auth::AccessTokens;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::tickets::Tickets;

/// What handlers need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Validated configuration.
    pub config: Arc<Config>,
    /// Access-token verifier.
    pub tokens: Arc<AccessTokens>,
    /// Join-ticket authority.
    pub tickets: Arc<Tickets>,
    /// Control plane.
    pub control: Control,
    /// Media plane.
    pub sfu: Sfu,
    /// Pings, idle bound and going-away signal of the WebSockets (shared with control's
    /// realtime sockets).
    pub sockets: control::websocket::SocketPolicy,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Per-user and per-device request limits.
    pub rate_limiter: Arc<crate::rate_limit::RateLimiter>,
    /// Live signaling sessions, ended by access changes.
    pub live: Arc<crate::live::LiveSessions>,
}
