//! Frames the client sends, and how the server reads them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::shared::{MediaSource, OfferedTrack};

/// A frame from the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// First frame: redeem a join ticket.
    Join {
        /// The protocol version the client speaks ([`crate::PROTOCOL_VERSION`]).
        protocol: u32,
        /// The ticket from `POST /v1/rtc/channels/{id}/join-ticket`.
        ticket: String,
    },
    /// The client's SDP offer.
    Offer {
        /// SDP text.
        sdp: String,
        /// Which source each publishing m-line carries.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tracks: Vec<OfferedTrack>,
    },
    /// Answer to a server `offer`.
    Answer {
        /// SDP text.
        sdp: String,
    },
    /// A trickled ICE candidate (`""`: end of candidates).
    Candidate {
        /// The candidate attribute (`candidate:...`, with or without `a=`).
        candidate: String,
        /// The m-line's mid (ignored: everything is bundled).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mid: Option<String>,
        /// The m-line's index (ignored).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mline_index: Option<u16>,
    },
    /// The client (un)muted one of its sources.
    Mute {
        /// Which source.
        source: MediaSource,
        /// Muted now.
        muted: bool,
    },
    /// How the client shows a remote video track: the size it renders it at (the server
    /// forwards the simulcast layer that fits), or paused (nothing of it is forwarded).
    TrackSettings {
        /// The track (`track_id` of `track_published`).
        track_id: String,
        /// Rendered width in pixels.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        width: Option<u32>,
        /// Rendered height in pixels.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        height: Option<u32>,
        /// Not shown at all: forward nothing of it until a later `track_settings` with a size.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        paused: bool,
    },
    /// Keepalive.
    Ping {
        /// Echoed in the `pong` (any JSON value, at most 128 bytes serialized).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nonce: Option<Value>,
    },
    /// Leave the room; the server closes the socket.
    Leave {},
}

impl ClientMessage {
    /// The `type` of every client frame.
    pub const TYPES: [&'static str; 8] = [
        "join",
        "offer",
        "answer",
        "candidate",
        "mute",
        "track_settings",
        "ping",
        "leave",
    ];

    /// The JSON text of this frame.
    pub fn to_json(&self) -> String {
        // These plain types always serialize.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses and validates one text frame (its size is the transport's business). The error
    /// says what is wrong in words for people, never more than 200 characters.
    pub fn parse(text: &str) -> Result<ClientMessage, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|_| "the frame is not valid JSON".to_string())?;
        let Some(kind) = value.get("type").and_then(Value::as_str) else {
            return Err("a frame must be a JSON object with a string field \"type\"".into());
        };
        if !Self::TYPES.contains(&kind) {
            // Escaped first, then cut: one control character escapes to up to 8 (`\u{7f}`).
            let kind: String = kind.escape_debug().take(32).collect();
            return Err(format!(
                "unknown frame type \"{kind}\"; the types are {}",
                Self::TYPES.join(", ")
            ));
        }
        let kind = kind.to_string();
        let message: ClientMessage = serde_json::from_value(value).map_err(|e| {
            // Without a position (from_value has none): "missing field `sdp`", "invalid type:
            // string \"1\", expected u32".
            let e: String = e.to_string().chars().take(160).collect();
            format!("{kind} frame: {e}")
        })?;
        message.validate()?;
        Ok(message)
    }

    fn validate(&self) -> Result<(), String> {
        let known = |s: &MediaSource| *s != MediaSource::Unknown;
        let sources = || {
            MediaSource::KNOWN
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            ClientMessage::Offer { sdp, tracks } => {
                if sdp.is_empty() {
                    return Err("offer.sdp must not be empty".into());
                }
                if tracks.len() > 16 || tracks.iter().any(|t| t.mid.is_empty() || t.mid.len() > 32)
                {
                    return Err("offer.tracks: at most 16 entries with mids of 1-32 chars".into());
                }
                if !tracks.iter().all(|t| known(&t.source)) {
                    return Err(format!("offer.tracks: a source is one of {}", sources()));
                }
            }
            ClientMessage::Answer { sdp } if sdp.is_empty() => {
                return Err("answer.sdp must not be empty".into());
            }
            ClientMessage::Candidate { candidate, .. } if candidate.len() > 1024 => {
                return Err("candidate is too long".into());
            }
            ClientMessage::Mute { source, .. } if !known(source) => {
                return Err(format!("mute frame: the source is one of {}", sources()));
            }
            ClientMessage::TrackSettings {
                track_id,
                width,
                height,
                paused,
            } => {
                if track_id.is_empty() || track_id.len() > 128 {
                    return Err("track_settings.track_id: 1-128 characters".into());
                }
                let size = [width, height];
                if size.iter().any(|d| d.is_some_and(|d| d == 0 || d > 16_384)) {
                    return Err("track_settings: width and height are 1-16384 pixels".into());
                }
                if !paused && size.iter().all(|d| d.is_none()) {
                    return Err("track_settings: give a width or height, or paused: true".into());
                }
            }
            ClientMessage::Ping { nonce: Some(n) } if n.to_string().len() > 128 => {
                return Err("ping.nonce is too long".into());
            }
            _ => {}
        }
        Ok(())
    }
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
            r#"{"type":"offer","sdp":"v=0","tracks":[{"mid":"0","source":"nose"}]}"#,
            r#"{"type":"candidate","candidate":"","sdp_mline_index":70000}"#,
            r#"{"type":"track_settings","track_id":"t"}"#,
            r#"{"type":"track_settings","track_id":"","paused":true}"#,
            r#"{"type":"track_settings","track_id":"t","height":0}"#,
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
        assert_eq!(
            err(r#"{"type":"mute","source":"nose","muted":true}"#),
            "mute frame: the source is one of microphone, camera, screenshare, screenshare_audio"
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
        for kind in ClientMessage::TYPES {
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
    fn what_a_client_writes_the_server_reads() {
        let frames = [
            ClientMessage::Join {
                protocol: 1,
                ticket: "t".into(),
            },
            ClientMessage::Offer {
                sdp: "v=0".into(),
                tracks: vec![OfferedTrack {
                    mid: "0".into(),
                    source: MediaSource::Microphone,
                }],
            },
            ClientMessage::Offer {
                sdp: "v=0".into(),
                tracks: Vec::new(),
            },
            ClientMessage::Candidate {
                candidate: String::new(),
                sdp_mid: None,
                sdp_mline_index: Some(0),
            },
            ClientMessage::Ping { nonce: None },
            ClientMessage::Leave {},
        ];
        for frame in frames {
            assert_eq!(ClientMessage::parse(&frame.to_json()), Ok(frame.clone()));
        }
        assert_eq!(ClientMessage::Leave {}.to_json(), r#"{"type":"leave"}"#);
    }
}
