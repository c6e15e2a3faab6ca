//! The OpenChat signaling protocol, version 1 (`docs/protocol.md`): every frame of the signaling
//! WebSocket as one set of serde types, spoken by the server (`signaling`) and by its clients
//! (`rtc-joiner`; the web client's frame names are checked against [`ClientMessage::TYPES`] and
//! [`ServerMessage::TYPES`] by a test).
//!
//! Room rule: wire shapes only. No sfu, database or transport types: the server converts its own
//! types into these at the edge, so an internal change can never change the wire by accident.
//! Depends on serde (and serde_json for the frames' text) only.

mod client;
mod errors;
mod ids;
mod server;
mod shared;
mod ticket;

pub use client::ClientMessage;
pub use errors::ErrorCode;
pub use ids::{Alphabet, ChannelId, DeviceId, InvalidId, ServerId, UserId};
pub use server::{
    GoingAwayReason, Joined, ParticipantInfo, RoomInfo, SelfInfo, ServerMessage, TrackInfo,
};
pub use shared::{Grants, MediaSource, OfferedTrack, TrackKind};
pub use ticket::TicketClaims;

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;
