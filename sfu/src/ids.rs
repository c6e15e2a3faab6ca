//! Typed identifiers.

use std::fmt;

/// A room: one per RTC channel.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomId(pub String);

impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A peer (one WebRTC connection) inside this sfu process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u64);

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "peer-{}", self.0)
    }
}

/// Who a peer is, as the rest of the room sees it. Opaque to the sfu.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParticipantInfo {
    /// Public id of the participant in this room session (also the `msid` stream id).
    pub participant_id: String,
    /// User id from the join ticket.
    pub user_id: String,
    /// Device id from the join ticket.
    pub device_id: String,
}
