//! Janus side by side: the same audio fan-out against Janus's videoroom plugin, driven by
//! rtc-joiner's load engine through [`client::JanusClient`].

pub mod api;
pub mod client;
pub mod server;
