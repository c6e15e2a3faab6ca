//! The claims of a join ticket (a JWT the server issues at `POST /v1/rtc/channels/{id}/join-ticket`
//! and redeems in the `join` frame). Clients hold tickets opaque; the shape is the server's, kept
//! here so that no internal type is ever serialized into a ticket.

use serde::{Deserialize, Serialize};

use crate::ids::{ChannelId, DeviceId, ServerId, UserId};
use crate::shared::Grants;

/// What a ticket admits to. The ids are typed: a ticket whose ids are outside their alphabets
/// does not decode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketClaims {
    /// User.
    pub sub: UserId,
    /// Device.
    pub did: DeviceId,
    /// Channel (room).
    pub chn: ChannelId,
    /// Server (community).
    pub srv: ServerId,
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
