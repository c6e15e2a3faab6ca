//! Client side of the public protocol: HTTP API (dev tokens, join tickets) and the
//! signaling WebSocket (v1).

pub mod http;
pub mod messages;
pub mod session;

pub use http::{ApiClient, JoinTicket};
pub use messages::{ClientMessage, Joined, Participant, ServerMessage};
pub use session::{SignalingSession, connect};
