//! OpenChat edge service and the wiring of `openchatd`.
//!
//! Room rule: signaling owns client sessions — HTTP routing, auth middleware, join tickets, the
//! signaling protocol state machine, SDP/ICE relay to the sfu — and the process wiring of config,
//! database, control and sfu. It holds no RTP and no SQL: media is the sfu's, durable state is
//! control's.
#![forbid(unsafe_code)]

pub mod auth;
pub mod config;
pub mod error;
pub mod http;
pub mod keys;
pub mod listener;
pub mod live;
pub mod metrics;
pub mod rate_limit;
pub mod resource_metrics;
pub mod server;
pub mod state;
pub mod tickets;
pub mod ws;

pub use http::app;
pub use server::{Running, start};
