//! Frames the server sends.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::shared::{Grants, MediaSource, TrackKind};

/// A published track, as listed in a participant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackInfo {
    /// Stable track id (`<participant_id>-<its publisher's mid>`).
    pub track_id: String,
    /// Source.
    pub source: MediaSource,
    /// Kind.
    pub kind: TrackKind,
    /// Muted by its publisher.
    #[serde(default)]
    pub muted: bool,
}

/// A participant as the server describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantInfo {
    /// The room-scoped participant id (`p_...`), also the `msid` stream id of its media when
    /// an m-line is offered.
    pub participant_id: String,
    /// User id.
    pub user_id: String,
    /// Device id.
    pub device_id: String,
    /// Published tracks.
    #[serde(default)]
    pub tracks: Vec<TrackInfo>,
    /// Speaking now (what the last `speaking` frame about them would have said).
    #[serde(default)]
    pub speaking: bool,
    /// Sources they declared muted, published or not.
    #[serde(default)]
    pub muted: Vec<MediaSource>,
    /// A moderator muted them: nothing they publish is forwarded (what the last
    /// `server_muted` frame about them would have said).
    #[serde(default)]
    pub server_muted: bool,
}

/// The room a session joined (`joined.room`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    /// Channel id.
    pub channel_id: String,
    /// Server id.
    pub server_id: String,
    /// Room kind (`voice`, `video`).
    pub kind: String,
}

/// Who the session is (`joined.self`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfInfo {
    /// User id.
    pub user_id: String,
    /// Device id.
    pub device_id: String,
    /// What this session may publish.
    #[serde(default)]
    pub grants: Grants,
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
    /// Who else is there, as they are now (never the session itself).
    #[serde(default)]
    pub participants: Vec<ParticipantInfo>,
    /// Send a frame (`ping` if nothing else) at least this often.
    pub keepalive_interval_ms: u64,
}

/// Why the server goes away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoingAwayReason {
    /// The process is stopping.
    Shutdown,
    /// The node is draining: reconnect elsewhere.
    Drain,
    /// A reason this side does not know (a newer server).
    #[serde(other)]
    Unknown,
}

impl GoingAwayReason {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            GoingAwayReason::Shutdown => "shutdown",
            GoingAwayReason::Drain => "drain",
            GoingAwayReason::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for GoingAwayReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A frame to the client.
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
    /// Renegotiation: the client must answer.
    Offer {
        /// SDP text.
        sdp: String,
    },
    /// Someone joined.
    ParticipantJoined {
        /// Who.
        participant: ParticipantInfo,
    },
    /// Someone left.
    ParticipantLeft {
        /// Who.
        participant_id: String,
        /// Why: `left`, `timeout`, `kicked`, `removed`, `failed`.
        #[serde(default)]
        reason: Cow<'static, str>,
    },
    /// A remote track arrives on m-line `mid`: a new one (the next server `offer` adds it) or an
    /// idle one the session already has (no offer follows).
    TrackPublished {
        /// Publisher.
        participant_id: String,
        /// Track id.
        track_id: String,
        /// Source.
        source: MediaSource,
        /// Kind.
        kind: TrackKind,
        /// The subscriber-side m-line.
        mid: String,
    },
    /// A remote track went away; its m-line goes idle.
    TrackUnpublished {
        /// Publisher.
        participant_id: String,
        /// Track id.
        track_id: String,
    },
    /// Speaking started or stopped.
    Speaking {
        /// Who.
        participant_id: String,
        /// Speaking now.
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
        /// Muted now.
        muted: bool,
    },
    /// A moderator muted (or unmuted) a participant: the server forwards nothing it publishes
    /// until the mute is lifted. Sent to the whole room, the participant included.
    ServerMuted {
        /// Who.
        participant_id: String,
        /// Muted now.
        muted: bool,
    },
    /// What this session may publish changed; a track of a source it lost has ended for the
    /// others, and its packets are dropped from now on.
    GrantsChanged {
        /// The new grants.
        grants: Grants,
    },
    /// Dynacast: which of this session's own video tracks the room watches. `paused`: nobody
    /// receives the track on m-line `mid`, stop sending it; otherwise send the simulcast
    /// encodings `rids` (the others are not received by anyone) or, without simulcast, the track.
    PublishLayers {
        /// The session's own m-line of the track.
        mid: String,
        /// Nobody receives it.
        #[serde(default)]
        paused: bool,
        /// The simulcast encodings to send (empty without simulcast).
        #[serde(default)]
        rids: Vec<String>,
    },
    /// An error; after a fatal one the server closes the socket.
    Error {
        /// Stable machine-readable code.
        code: Cow<'static, str>,
        /// For people.
        #[serde(default)]
        message: String,
        /// Whether the session is over.
        #[serde(default)]
        fatal: bool,
    },
    /// Answer to `ping`.
    Pong {
        /// The ping's nonce.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nonce: Option<Value>,
    },
    /// The server goes away and closes the socket with 1001 next; join again (with a new
    /// ticket) after a short, jittered delay.
    GoingAway {
        /// Why.
        reason: GoingAwayReason,
        /// Whether the client should reconnect (always true today).
        #[serde(default)]
        reconnect: bool,
    },
    /// A frame type this side does not know (a newer server); never sent.
    #[serde(other)]
    Unknown,
}

impl ServerMessage {
    /// The `type` of every frame the server sends.
    pub const TYPES: [&'static str; 15] = [
        "joined",
        "answer",
        "offer",
        "participant_joined",
        "participant_left",
        "track_published",
        "track_unpublished",
        "speaking",
        "muted",
        "server_muted",
        "grants_changed",
        "publish_layers",
        "error",
        "pong",
        "going_away",
    ];

    /// An `error` frame with one of our codes.
    pub fn error_code(
        code: crate::ErrorCode,
        message: impl Into<String>,
        fatal: bool,
    ) -> ServerMessage {
        ServerMessage::error(code.as_str(), message, fatal)
    }

    /// An `error` frame.
    pub fn error(
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
        fatal: bool,
    ) -> ServerMessage {
        ServerMessage::Error {
            code: code.into(),
            message: message.into(),
            fatal,
        }
    }

    /// The `going_away` frame for `reason`.
    pub fn going_away(reason: GoingAwayReason) -> ServerMessage {
        ServerMessage::GoingAway {
            reason,
            reconnect: true,
        }
    }

    /// JSON text of the frame.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"type":"error","code":"internal","message":"encoding failed","fatal":true}"#.into()
        })
    }

    /// Parses one text frame; an unknown `type` gives [`ServerMessage::Unknown`].
    pub fn from_json(text: &str) -> Result<ServerMessage, serde_json::Error> {
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined() -> ServerMessage {
        ServerMessage::Joined(Joined {
            protocol: 1,
            participant_id: "p".into(),
            room: RoomInfo {
                channel_id: "c".into(),
                server_id: "s".into(),
                kind: "voice".into(),
            },
            self_info: SelfInfo {
                user_id: "u".into(),
                device_id: "d".into(),
                grants: Grants {
                    microphone: true,
                    ..Grants::default()
                },
            },
            participants: vec![],
            keepalive_interval_ms: 15000,
        })
    }

    #[test]
    fn serializes_the_self_field_and_grants() {
        let v: Value = serde_json::from_str(&joined().to_text()).expect("json");
        assert_eq!(v["type"], "joined");
        assert_eq!(v["self"]["user_id"], "u");
        assert_eq!(v["self"]["grants"]["microphone"], true);
        assert_eq!(v["self"]["grants"]["camera"], false);
    }

    #[test]
    fn going_away_frame() {
        let text = ServerMessage::going_away(GoingAwayReason::Shutdown).to_text();
        assert_eq!(
            text,
            r#"{"type":"going_away","reason":"shutdown","reconnect":true}"#
        );
    }

    #[test]
    fn what_the_server_writes_a_client_reads() {
        let frames = [
            joined(),
            ServerMessage::error("room_full", "the room is full", true),
            ServerMessage::ParticipantLeft {
                participant_id: "p".into(),
                reason: "left".into(),
            },
            ServerMessage::going_away(GoingAwayReason::Drain),
            ServerMessage::Pong { nonce: None },
        ];
        for frame in frames {
            let text = frame.to_text();
            assert_eq!(ServerMessage::from_json(&text).expect("parses"), frame);
            let kind = serde_json::from_str::<Value>(&text).expect("json")["type"].clone();
            assert!(
                ServerMessage::TYPES.contains(&kind.as_str().unwrap_or("")),
                "{kind}"
            );
        }
    }

    #[test]
    fn a_newer_servers_frames_do_not_break_a_client() {
        let m = ServerMessage::from_json(r#"{"type":"hologram","x":1}"#).expect("parses");
        assert_eq!(m, ServerMessage::Unknown);
        let m = ServerMessage::from_json(
            r#"{"type":"muted","participant_id":"p","source":"smell","muted":true}"#,
        )
        .expect("parses");
        assert!(matches!(
            m,
            ServerMessage::Muted {
                source: MediaSource::Unknown,
                ..
            }
        ));
    }
}
