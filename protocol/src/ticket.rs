//! The claims of a join ticket (a JWT the server issues at `POST /v1/rtc/channels/{id}/join-ticket`
//! and redeems in the `join` frame). Clients hold tickets opaque; the shape is the server's, kept
//! here so that no internal type is ever serialized into a ticket.

use serde::{Deserialize, Serialize};

use crate::shared::Grants;

/// What a ticket admits to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketClaims {
    /// User.
    pub sub: String,
    /// Device.
    pub did: String,
    /// Channel (room).
    pub chn: String,
    /// Server (community).
    pub srv: String,
    /// Room kind.
    pub knd: String,
    /// What the holder may publish.
    pub grt: Grants,
    /// The sfu node it is redeemed on.
    pub node: String,
    /// Unique id, consumed on first use.
    pub jti: String,
    /// Expiry (unix seconds).
    pub exp: u64,
    /// Issued at (unix seconds).
    pub iat: u64,
    /// Audience.
    pub aud: String,
}
