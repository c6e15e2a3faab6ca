//! The light load engine (`rtc-joiner load --engine str0m`, the default): str0m peers
//! multiplexed on a few hub threads.
//!
//! A webrtc-rs peer connection costs a driver task, several timers and its interceptors per
//! joiner; at a few hundred listeners the load process itself becomes the limit. Here a
//! [`hub`] thread owns many peers: one non-blocking UDP socket per peer (the server tells
//! peers apart by address), one mio poll over all of them, a timer heap of str0m deadlines,
//! and the publishers' 20 ms pacing with Opus [`frames`] encoded once per run. Signaling
//! stays one tokio task per joiner ([`openchat`]), speaking the same public protocol as a
//! [`Joiner`](crate::Joiner).

pub mod client;
pub mod frames;
pub mod hub;
pub mod openchat;
pub mod peer;

pub use client::{HubPool, LightPeer};
pub use frames::EncodedClip;
pub use openchat::LightOpenChatClient;
pub use peer::{PeerNotice, PeerReport};
