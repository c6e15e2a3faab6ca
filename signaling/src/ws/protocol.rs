//! Signaling protocol v1 messages (see `docs/protocol.md`), and their validation.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The protocol version this server speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// The frame limit never goes below this.
pub const MIN_FRAME_BYTES: usize = 64 * 1024;

/// Largest WebSocket frame (and message) accepted, either way: room for the largest SDP a
/// client of the largest room may have to send ([`sfu::RoomPolicy::max_sdp_bytes_any_kind`],
/// which follows from `rtc.max_participants_per_room`), JSON-escaped (`\r\n` adds two bytes a
/// line; a quarter more covers lines of ten bytes), plus the frame's other fields.
pub fn max_frame_bytes(max_participants_per_room: usize) -> usize {
    let sdp = sfu::RoomPolicy::max_sdp_bytes_any_kind(max_participants_per_room);
    sdp.saturating_add(sdp / 4)
        .saturating_add(1024)
        .max(MIN_FRAME_BYTES)
}

/// The `type` of every client frame.
const CLIENT_TYPES: [&str; 7] = [
    "join",
    "offer",
    "answer",
    "candidate",
    "mute",
    "ping",
    "leave",
];

/// A frame from the client.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// First frame: redeem a ticket.
    Join {
        /// Protocol version the client speaks.
        protocol: u32,
        /// The join ticket.
        ticket: String,
    },
    /// The client's SDP offer.
    Offer {
        /// SDP text.
        sdp: String,
        /// Which source each publishing m-line carries.
        #[serde(default)]
        tracks: Vec<sfu::TrackDeclaration>,
    },
    /// Answer to a server offer.
    Answer {
        /// SDP text.
        sdp: String,
    },
    /// A trickled ICE candidate.
    Candidate {
        /// `candidate:...` line; empty for end of candidates.
        candidate: String,
        /// m-line id.
        #[serde(default)]
        sdp_mid: Option<String>,
        /// m-line index.
        #[serde(default)]
        sdp_mline_index: Option<u32>,
    },
    /// The client (un)muted a source.
    Mute {
        /// Which source.
        source: sfu::Source,
        /// Muted now.
        muted: bool,
    },
    /// Keepalive.
    Ping {
        /// Echoed in the pong.
        #[serde(default)]
        nonce: Option<Value>,
    },
    /// Leave the room.
    Leave {},
}

impl ClientMessage {
    /// Parses and validates one text frame (its size is the transport's business). The error
    /// says what is wrong in words for people, never more than 200 characters.
    pub fn parse(text: &str) -> Result<ClientMessage, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|_| "the frame is not valid JSON".to_string())?;
        let Some(kind) = value.get("type").and_then(Value::as_str) else {
            return Err("a frame must be a JSON object with a string field \"type\"".into());
        };
        if !CLIENT_TYPES.contains(&kind) {
            // Escaped first, then cut: one control character escapes to up to 8 (`\u{7f}`).
            let kind: String = kind.escape_debug().take(32).collect();
            return Err(format!(
                "unknown frame type \"{kind}\"; the types are {}",
                CLIENT_TYPES.join(", ")
            ));
        }
        let kind = kind.to_string();
        let message: ClientMessage = serde_json::from_value(value).map_err(|e| {
            // Without a position (from_value has none): "missing field `sdp`", "invalid type:
            // string \"1\", expected u32", "unknown variant `nose`, expected one of ...".
            let e: String = e.to_string().chars().take(160).collect();
            format!("{kind} frame: {e}")
        })?;
        message.validate()?;
        Ok(message)
    }

    fn validate(&self) -> Result<(), String> {
        match self {
            ClientMessage::Offer { sdp, tracks } => {
                if sdp.is_empty() {
                    return Err("offer.sdp must not be empty".into());
                }
                if tracks.len() > 16 || tracks.iter().any(|t| t.mid.is_empty() || t.mid.len() > 32)
                {
                    return Err("offer.tracks: at most 16 entries with mids of 1-32 chars".into());
                }
            }
            ClientMessage::Answer { sdp } if sdp.is_empty() => {
                return Err("answer.sdp must not be empty".into());
            }
            ClientMessage::Candidate { candidate, .. } if candidate.len() > 1024 => {
                return Err("candidate is too long".into());
            }
            ClientMessage::Ping { nonce: Some(n) } if n.to_string().len() > 128 => {
                return Err("ping.nonce is too long".into());
            }
            _ => {}
        }
        Ok(())
    }
}

/// A track as sent to clients.
#[derive(Debug, Clone, Serialize)]
pub struct TrackInfo {
    /// Stable track id.
    pub track_id: String,
    /// Source.
    pub source: sfu::Source,
    /// `audio` or `video`.
    pub kind: sfu::MediaKind,
    /// Muted by its publisher.
    pub muted: bool,
}

/// A participant as sent to clients.
#[derive(Debug, Clone, Serialize)]
pub struct ParticipantInfo {
    /// Participant id (the msid stream id of its tracks).
    pub participant_id: String,
    /// User id.
    pub user_id: String,
    /// Device id.
    pub device_id: String,
    /// Published tracks.
    pub tracks: Vec<TrackInfo>,
    /// Speaking now (what the last `speaking` frame about them would have said).
    pub speaking: bool,
    /// Sources they declared muted, published or not.
    pub muted: Vec<sfu::Source>,
}

/// The room a session is in.
#[derive(Debug, Clone, Serialize)]
pub struct RoomInfo {
    /// Channel id.
    pub channel_id: String,
    /// Server id.
    pub server_id: String,
    /// Room kind.
    pub kind: String,
}

/// The joined participant itself.
#[derive(Debug, Clone, Serialize)]
pub struct SelfInfo {
    /// User id.
    pub user_id: String,
    /// Device id.
    pub device_id: String,
    /// Publish grants.
    pub grants: sfu::Grants,
}

/// A frame to the client.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Join accepted.
    Joined {
        /// Protocol version.
        protocol: u32,
        /// This session's participant id.
        participant_id: String,
        /// The room.
        room: RoomInfo,
        /// This participant.
        #[serde(rename = "self")]
        self_: SelfInfo,
        /// Who else is there.
        participants: Vec<ParticipantInfo>,
        /// Send a ping at least this often.
        keepalive_interval_ms: u64,
    },
    /// Answer to the client's offer.
    Answer {
        /// SDP text.
        sdp: String,
    },
    /// Server renegotiation.
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
        /// Why.
        reason: &'static str,
    },
    /// A remote track arrives on `mid`.
    TrackPublished {
        /// Publisher.
        participant_id: String,
        /// Track id.
        track_id: String,
        /// Source.
        source: sfu::Source,
        /// Kind.
        kind: sfu::MediaKind,
        /// Subscriber-side m-line.
        mid: String,
    },
    /// A remote track went away.
    TrackUnpublished {
        /// Publisher.
        participant_id: String,
        /// Track id.
        track_id: String,
    },
    /// Speaking changed.
    Speaking {
        /// Who.
        participant_id: String,
        /// Speaking now.
        speaking: bool,
        /// 0 loudest ... 127.
        level: u8,
    },
    /// Mute changed.
    Muted {
        /// Who.
        participant_id: String,
        /// Source.
        source: sfu::Source,
        /// Muted now.
        muted: bool,
    },
    /// A protocol error.
    Error {
        /// Stable code.
        code: &'static str,
        /// Detail.
        message: String,
        /// The server closes the socket after a fatal error.
        fatal: bool,
    },
    /// Keepalive answer.
    Pong {
        /// Echo of the ping's nonce.
        #[serde(skip_serializing_if = "Option::is_none")]
        nonce: Option<Value>,
    },
    /// The server goes away (stops or drains); it closes the socket with 1001 next. The client
    /// should join again (a new ticket) after a short, jittered delay.
    GoingAway {
        /// Why: `shutdown` or `drain`.
        reason: control::websocket::GoingAwayReason,
        /// Whether the client should reconnect (always true today).
        reconnect: bool,
    },
}

impl ServerMessage {
    /// An error frame.
    pub fn error(code: &'static str, message: impl Into<String>, fatal: bool) -> ServerMessage {
        ServerMessage::Error {
            code,
            message: message.into(),
            fatal,
        }
    }

    /// The `going_away` frame for `reason`.
    pub fn going_away(reason: control::websocket::GoingAwayReason) -> ServerMessage {
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
}

/// Converts an sfu participant snapshot.
pub fn participant(p: &sfu::ParticipantSnapshot) -> ParticipantInfo {
    ParticipantInfo {
        participant_id: p.info.participant_id.clone(),
        user_id: p.info.user_id.clone(),
        device_id: p.info.device_id.clone(),
        tracks: p.tracks.iter().map(track).collect(),
        speaking: p.speaking,
        muted: p.muted.clone(),
    }
}

fn track(t: &sfu::TrackSnapshot) -> TrackInfo {
    TrackInfo {
        track_id: t.track_id.clone(),
        source: t.source,
        kind: t.kind,
        muted: t.muted,
    }
}

/// Converts an sfu event to a frame, if clients see it.
pub fn from_peer_event(event: &sfu::PeerEvent) -> Option<ServerMessage> {
    use sfu::PeerEvent as E;
    Some(match event {
        E::Answer { sdp } => ServerMessage::Answer { sdp: sdp.clone() },
        E::Offer { sdp } => ServerMessage::Offer { sdp: sdp.clone() },
        E::ParticipantJoined(p) => ServerMessage::ParticipantJoined {
            participant: participant(p),
        },
        E::ParticipantLeft {
            participant_id,
            reason,
        } => ServerMessage::ParticipantLeft {
            participant_id: participant_id.clone(),
            reason: reason.as_str(),
        },
        E::TrackPublished {
            participant_id,
            track,
            mid,
        } => ServerMessage::TrackPublished {
            participant_id: participant_id.clone(),
            track_id: track.track_id.clone(),
            source: track.source,
            kind: track.kind,
            mid: mid.clone(),
        },
        E::TrackUnpublished {
            participant_id,
            track_id,
        } => ServerMessage::TrackUnpublished {
            participant_id: participant_id.clone(),
            track_id: track_id.clone(),
        },
        E::Speaking {
            participant_id,
            speaking,
            level,
        } => ServerMessage::Speaking {
            participant_id: participant_id.clone(),
            speaking: *speaking,
            level: *level,
        },
        E::Muted {
            participant_id,
            source,
            muted,
        } => ServerMessage::Muted {
            participant_id: participant_id.clone(),
            source: *source,
            muted: *muted,
        },
        E::Error {
            code,
            message,
            fatal,
        } => ServerMessage::error(code.as_str(), message.clone(), *fatal),
        E::Joined { .. } | E::Connected | E::Closed { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_documented_examples() {
        let m =
            ClientMessage::parse(r#"{"type":"join","protocol":1,"ticket":"abc"}"#).expect("join");
        assert_eq!(
            m,
            ClientMessage::Join {
                protocol: 1,
                ticket: "abc".into()
            }
        );
        let m = ClientMessage::parse(
            r#"{"type":"offer","sdp":"v=0","tracks":[{"mid":"0","source":"microphone"}]}"#,
        )
        .expect("offer");
        assert!(matches!(m, ClientMessage::Offer { tracks, .. } if tracks.len() == 1));
        assert!(ClientMessage::parse(r#"{"type":"leave"}"#).is_ok());
        assert!(ClientMessage::parse(r#"{"type":"ping","nonce":7}"#).is_ok());
        assert!(
            ClientMessage::parse(r#"{"type":"mute","source":"microphone","muted":true}"#).is_ok()
        );
    }

    #[test]
    fn refuses_malformed_frames() {
        for bad in [
            "",
            "null",
            "[]",
            "{}",
            r#"{"type":"dance"}"#,
            r#"{"type":"join","protocol":"1","ticket":"x"}"#,
            r#"{"type":"offer","sdp":""}"#,
            r#"{"type":"mute","source":"nose","muted":true}"#,
            r#"{"type":"offer","sdp":"v=0","tracks":[{"mid":"","source":"microphone"}]}"#,
        ] {
            assert!(ClientMessage::parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn errors_are_written_for_people() {
        let err = |text: &str| ClientMessage::parse(text).expect_err("refused");
        assert_eq!(err("{\"type\":"), "the frame is not valid JSON");
        assert_eq!(
            err("[1]"),
            "a frame must be a JSON object with a string field \"type\""
        );
        let unknown = err(r#"{"type":"dance"}"#);
        assert!(unknown.starts_with("unknown frame type \"dance\"; the types are join, offer"));
        assert_eq!(
            err(r#"{"type":"answer"}"#),
            "answer frame: missing field `sdp`"
        );
        let bad = err(r#"{"type":"mute","source":"nose","muted":true}"#);
        assert!(
            bad.starts_with("mute frame: unknown variant `nose`"),
            "{bad}"
        );
        for text in ["{\"type\":", r#"{"type":"dance"}"#, r#"{"type":"answer"}"#] {
            assert!(!err(text).contains("line 1"), "no parser positions");
        }
        let long = format!(r#"{{"type":"{}"}}"#, "x".repeat(10_000));
        assert!(err(&long).len() < 200);
        // Found by the `signaling_frame` fuzz target: 20 DEL characters in an unknown type
        // escaped to 140, and the message grew past 200 characters.
        let escaped = err(&format!(r#"{{"type":"leave{}"}}"#, r"\u007f".repeat(40)));
        assert!(
            escaped.chars().count() <= 200,
            "{} chars",
            escaped.chars().count()
        );
        assert!(
            escaped.starts_with(r#"unknown frame type "leave\u{7f}"#),
            "{escaped}"
        );
    }

    #[test]
    fn every_client_type_is_known() {
        for kind in CLIENT_TYPES {
            let e = ClientMessage::parse(&format!(r#"{{"type":"{kind}"}}"#));
            assert!(
                e.is_ok()
                    || e.as_ref()
                        .is_err_and(|e| e.starts_with(&format!("{kind} frame: "))),
                "{kind}: {e:?}"
            );
        }
    }

    #[test]
    fn frame_limit_fits_the_largest_sdp() {
        let sdp = sfu::RoomPolicy::max_sdp_bytes_any_kind(100);
        assert!(max_frame_bytes(100) > sdp + sdp / 5);
        assert!(max_frame_bytes(1) >= MIN_FRAME_BYTES);
        assert!(max_frame_bytes(1000) > max_frame_bytes(100));
    }

    #[test]
    fn going_away_frame() {
        use control::websocket::GoingAwayReason;
        let text = ServerMessage::going_away(GoingAwayReason::Shutdown).to_text();
        assert_eq!(
            text,
            r#"{"type":"going_away","reason":"shutdown","reconnect":true}"#
        );
        let text = ServerMessage::going_away(GoingAwayReason::Drain).to_text();
        assert!(text.contains(r#""reason":"drain""#), "{text}");
    }

    #[test]
    fn serializes_self_field() {
        let m = ServerMessage::Joined {
            protocol: 1,
            participant_id: "p".into(),
            room: RoomInfo {
                channel_id: "c".into(),
                server_id: "s".into(),
                kind: "voice".into(),
            },
            self_: SelfInfo {
                user_id: "u".into(),
                device_id: "d".into(),
                grants: sfu::Grants::default(),
            },
            participants: vec![],
            keepalive_interval_ms: 15000,
        };
        let v: Value = serde_json::from_str(&m.to_text()).expect("json");
        assert_eq!(v["type"], "joined");
        assert_eq!(v["self"]["user_id"], "u");
    }
}
