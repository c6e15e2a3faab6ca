//! Typed events the sfu emits to the session of one peer.

use crate::error::ErrorCode;
use crate::ids::ParticipantInfo;
use crate::policy::{Grants, MediaKind, Source};

/// Why a participant left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaveReason {
    /// It asked to leave or its session closed.
    Left,
    /// Its connection timed out.
    Timeout,
    /// Moderation removed it.
    Kicked,
    /// It lost the right to be there (its device was revoked, or its user left or was removed
    /// from the room's server).
    Removed,
    /// Its connection failed: the DTLS handshake or certificate check failed, or a negotiation
    /// could not complete.
    Failed,
}

impl LeaveReason {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            LeaveReason::Left => "left",
            LeaveReason::Timeout => "timeout",
            LeaveReason::Kicked => "kicked",
            LeaveReason::Removed => "removed",
            LeaveReason::Failed => "failed",
        }
    }
}

/// A published track as others see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackSnapshot {
    /// Stable id of the track in the room.
    pub track_id: String,
    /// What it carries.
    pub source: Source,
    /// Audio or video.
    pub kind: MediaKind,
    /// Whether its publisher muted it.
    pub muted: bool,
}

/// A participant as others see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParticipantSnapshot {
    /// Who.
    pub info: ParticipantInfo,
    /// Their published tracks.
    pub tracks: Vec<TrackSnapshot>,
    /// Speaking now (the last `Speaking` event about them said `speaking: true`).
    pub speaking: bool,
    /// Sources they declared muted (whether published or not), in a fixed order.
    pub muted: Vec<Source>,
    /// A moderator muted them: nothing they publish is forwarded.
    pub server_muted: bool,
}

/// Something the session of one peer must relay to its client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerEvent {
    /// The peer is in the room; these were there before it.
    Joined {
        /// The other participants.
        participants: Vec<ParticipantSnapshot>,
    },
    /// Answer to the client's offer.
    Answer {
        /// SDP text.
        sdp: String,
    },
    /// Server-initiated renegotiation.
    Offer {
        /// SDP text.
        sdp: String,
    },
    /// ICE and DTLS are up.
    Connected,
    /// Another participant joined.
    ParticipantJoined(ParticipantSnapshot),
    /// Another participant left.
    ParticipantLeft {
        /// Who.
        participant_id: String,
        /// Why.
        reason: LeaveReason,
    },
    /// A remote track will arrive on `mid` after the next offer/answer.
    TrackPublished {
        /// Publisher.
        participant_id: String,
        /// The track.
        track: TrackSnapshot,
        /// The subscriber-side m-line it arrives on.
        mid: String,
    },
    /// A remote track went away.
    TrackUnpublished {
        /// Publisher.
        participant_id: String,
        /// The track.
        track_id: String,
    },
    /// A participant started or stopped speaking.
    Speaking {
        /// Who.
        participant_id: String,
        /// Speaking now.
        speaking: bool,
        /// Loudness, 0 (loudest) ... 127 -dBov.
        level: u8,
    },
    /// A participant (un)muted a source.
    Muted {
        /// Who.
        participant_id: String,
        /// Which source.
        source: Source,
        /// Muted now.
        muted: bool,
    },
    /// A moderator muted (or unmuted) a participant: nothing it publishes is forwarded until
    /// the mute is lifted. Sent to the whole room, the participant included.
    ServerMuted {
        /// Who.
        participant_id: String,
        /// Muted now.
        muted: bool,
    },
    /// What this peer may publish changed: a track of a source it lost has ended (others saw it
    /// unpublished) and its packets are dropped from now on.
    GrantsChanged {
        /// The new grants.
        grants: Grants,
    },
    /// Dynacast: which layers of this peer's own video track on `mid` anyone receives
    /// (`paused`: nobody; else the simulcast `rids` to send, empty without simulcast).
    PublishLayers {
        /// The peer's own m-line of the track.
        mid: String,
        /// Nobody receives the track.
        paused: bool,
        /// The encodings to keep sending.
        rids: Vec<String>,
    },
    /// A protocol error for this peer.
    Error {
        /// Stable code.
        code: ErrorCode,
        /// Human-readable detail (never internal state).
        message: String,
        /// After a fatal error the peer is gone.
        fatal: bool,
    },
    /// The peer left the room (the last event for it).
    Closed {
        /// Why.
        reason: LeaveReason,
    },
}
