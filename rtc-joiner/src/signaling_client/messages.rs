//! Signaling WebSocket v1 frames (`docs/protocol.md` §4), as serde types.
//!
//! Every frame is one JSON object with a `type` field. Unknown server frame types
//! decode to [`ServerMessage::Unknown`] so that a newer server does not break this client.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The signaling protocol version this client speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// A media source a client may publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaSource {
    /// Microphone audio.
    Microphone,
    /// Camera video.
    Camera,
    /// Screen share video.
    Screenshare,
    /// Screen share audio.
    ScreenshareAudio,
    /// A source this client does not know (newer server).
    #[serde(other)]
    Unknown,
}

/// Track kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackKind {
    /// Audio.
    Audio,
    /// Video.
    Video,
    /// A kind this client does not know.
    #[serde(other)]
    Unknown,
}

/// One entry of an `offer`'s `tracks`: which source an m-line carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferedTrack {
    /// The m-line's `mid`.
    pub mid: String,
    /// What it carries.
    pub source: MediaSource,
}

/// Frames the client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// First frame: authenticate with a join ticket.
    Join {
        /// Must be [`PROTOCOL_VERSION`].
        protocol: u32,
        /// The ticket from `POST /v1/rtc/channels/{id}/join-ticket`.
        ticket: String,
    },
    /// The client's SDP offer.
    Offer {
        /// SDP text.
        sdp: String,
        /// Sources of the m-lines the client publishes.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        tracks: Option<Vec<OfferedTrack>>,
    },
    /// Answer to a server `offer`.
    Answer {
        /// SDP text.
        sdp: String,
    },
    /// A trickled ICE candidate (`""` = end of candidates).
    Candidate {
        /// The candidate attribute.
        candidate: String,
        /// The m-line's mid.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        sdp_mid: Option<String>,
        /// The m-line's index.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        sdp_mline_index: Option<u16>,
    },
    /// The client (un)muted one of its sources.
    Mute {
        /// The source.
        source: MediaSource,
        /// Muted or not.
        muted: bool,
    },
    /// Keepalive.
    Ping {
        /// Echoed in the `pong`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        nonce: Option<String>,
    },
    /// Leave the room; the server closes the socket.
    Leave,
}

/// The room a session joined (`joined.room`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    /// Channel id.
    pub channel_id: String,
    /// Server id.
    pub server_id: String,
    /// Room kind (`voice`, ...).
    pub kind: String,
}

/// Who the session is (`joined.self`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfInfo {
    /// User id.
    pub user_id: String,
    /// Device id.
    pub device_id: String,
    /// Which sources this session may publish.
    #[serde(default)]
    pub grants: BTreeMap<String, bool>,
}

/// A published track as listed in a participant object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantTrack {
    /// Track id.
    pub track_id: String,
    /// Source.
    pub source: MediaSource,
    /// Kind.
    pub kind: TrackKind,
    /// Muted by its publisher.
    #[serde(default)]
    pub muted: bool,
}

/// A participant object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// The room-scoped participant id (`p_...`), also the `msid` stream id of its media.
    pub participant_id: String,
    /// User id.
    pub user_id: String,
    /// Device id.
    pub device_id: String,
    /// Published tracks.
    #[serde(default)]
    pub tracks: Vec<ParticipantTrack>,
}

/// The `joined` frame's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Joined {
    /// Protocol version.
    pub protocol: u32,
    /// This session's participant id.
    pub participant_id: String,
    /// The room.
    pub room: RoomInfo,
    /// This session's identity and grants.
    #[serde(rename = "self")]
    pub self_info: SelfInfo,
    /// Participants already in the room.
    #[serde(default)]
    pub participants: Vec<Participant>,
    /// How often to `ping`.
    pub keepalive_interval_ms: u64,
}

/// Frames the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Join accepted.
    Joined(Joined),
    /// Answer to the client's offer.
    Answer {
        /// SDP text.
        sdp: String,
    },
    /// Renegotiation offer; the client must answer.
    Offer {
        /// SDP text.
        sdp: String,
    },
    /// A server ICE candidate.
    Candidate {
        /// The candidate attribute.
        candidate: String,
        /// The m-line's mid.
        #[serde(default)]
        sdp_mid: Option<String>,
    },
    /// Someone joined.
    ParticipantJoined {
        /// Who.
        participant: Participant,
    },
    /// Someone left.
    ParticipantLeft {
        /// Who.
        participant_id: String,
        /// `left`, `timeout` or `kicked`.
        #[serde(default)]
        reason: String,
    },
    /// A remote track; `mid` is the m-line it arrives on for this client.
    TrackPublished {
        /// Publisher.
        participant_id: String,
        /// Track id.
        track_id: String,
        /// Source.
        source: MediaSource,
        /// Kind.
        kind: TrackKind,
        /// The m-line it arrives on.
        mid: String,
    },
    /// A remote track went away.
    TrackUnpublished {
        /// Publisher.
        participant_id: String,
        /// Track id.
        track_id: String,
    },
    /// Speaking started/stopped.
    Speaking {
        /// Who.
        participant_id: String,
        /// Speaking or not.
        speaking: bool,
        /// 0 (loudest) ... 127 -dBov.
        #[serde(default)]
        level: u8,
    },
    /// Someone (un)muted a source.
    Muted {
        /// Who.
        participant_id: String,
        /// Which source.
        source: MediaSource,
        /// Muted or not.
        muted: bool,
    },
    /// An error; after a fatal one the server closes the socket.
    Error {
        /// Machine-readable code.
        code: String,
        /// Human-readable message.
        #[serde(default)]
        message: String,
        /// Whether the session is over.
        #[serde(default)]
        fatal: bool,
    },
    /// Answer to `ping`.
    Pong {
        /// The ping's nonce (any JSON value is accepted).
        #[serde(default)]
        nonce: Option<serde_json::Value>,
    },
    /// The server goes away (`reason`: `shutdown` or `drain`) and closes the socket with 1001
    /// next; join again (with a new ticket) to continue.
    GoingAway {
        /// Why the server goes away.
        reason: String,
        /// Whether the client should reconnect.
        #[serde(default)]
        reconnect: bool,
    },
    /// A frame type this client does not know.
    #[serde(other)]
    Unknown,
}

impl ClientMessage {
    /// The JSON text of this frame.
    pub fn to_json(&self) -> String {
        // Serialising these plain structs cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl ServerMessage {
    /// Parses one text frame.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}
