//! Signaling WebSocket v1 frames (`docs/protocol.md`): the `openchat-protocol` crate's, the same
//! types the server speaks. Unknown server frame types, sources and reasons decode to `Unknown`,
//! so a newer server does not break this client.

pub use openchat_protocol::{
    ClientMessage, GoingAwayReason, Grants, Joined, MediaSource, OfferedTrack, PROTOCOL_VERSION,
    ParticipantInfo as Participant, ServerMessage, TrackInfo as ParticipantTrack, TrackKind,
};
