//! What both WebSockets of `openchatd` share — signaling's `GET /v1/rtc/signaling` and
//! realtime's `GET /v1/realtime`: the RFC 6455 close codes the server sends, server pings and
//! the idle bound, the going-away signal of a stopping or draining process, oversize frames
//! (1009) and lingering closes. It lives here, below both users, because signaling depends on
//! control and not the other way round.
//!
//! Close codes (documented in `docs/protocol.md` and `docs/control-api.md`):
//!
//! | code | reason | when |
//! | --- | --- | --- |
//! | 1000 | | normal closure |
//! | 1001 | `shutdown` or `drain` ([`GoingAwayReason`]) | the process stops or drains; reconnect |
//! | 1009 | `frame exceeds N bytes` | a frame over the socket's limit |
//! | 4000 | an error code, e.g. `idle_timeout` | the session ended on an error |

mod close;
mod guard;
mod policy;

pub use close::{GOING_AWAY, GoingAwayReason, MESSAGE_TOO_BIG, NORMAL, SESSION_ERROR};
pub use guard::{CLOSE_HANDSHAKE_WAIT, GuardedSocket, SocketEnd};
pub use policy::{
    GoingAway, GoingAwayTrigger, LingerOnClose, ServerClose, SocketKind, SocketPolicy, SocketStats,
};
