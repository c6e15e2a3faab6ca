//! Signaling frames against the examples and tables in `docs/protocol.md` §4 (moved here from
//! rtc-joiner, which now speaks these types too).

use openchat_protocol::{
    ClientMessage, GoingAwayReason, Joined, MediaSource, OfferedTrack,
    ParticipantInfo as Participant, ServerMessage, TrackKind,
};
use serde_json::{Value, json};

fn to_value(message: &ClientMessage) -> Value {
    serde_json::from_str(&message.to_json()).expect("valid JSON")
}

fn parse(value: Value) -> ServerMessage {
    ServerMessage::from_json(&value.to_string()).expect("parses")
}

#[test]
fn client_frames_serialize_as_documented() {
    assert_eq!(
        to_value(&ClientMessage::Join {
            protocol: 1,
            ticket: "<jwt>".into()
        }),
        json!({"type": "join", "protocol": 1, "ticket": "<jwt>"})
    );
    assert_eq!(
        to_value(&ClientMessage::Offer {
            sdp: "v=0".into(),
            tracks: vec![OfferedTrack {
                mid: "0".into(),
                source: MediaSource::Microphone
            }],
        }),
        json!({"type": "offer", "sdp": "v=0", "tracks": [{"mid": "0", "source": "microphone"}]})
    );
    assert_eq!(
        to_value(&ClientMessage::Offer {
            sdp: "v=0".into(),
            tracks: Vec::new()
        }),
        json!({"type": "offer", "sdp": "v=0"})
    );
    assert_eq!(
        to_value(&ClientMessage::Answer { sdp: "v=0".into() }),
        json!({"type": "answer", "sdp": "v=0"})
    );
    assert_eq!(
        to_value(&ClientMessage::Candidate {
            candidate: String::new(),
            sdp_mid: Some("0".into()),
            sdp_mline_index: Some(0)
        }),
        json!({"type": "candidate", "candidate": "", "sdp_mid": "0", "sdp_mline_index": 0})
    );
    assert_eq!(
        to_value(&ClientMessage::Mute {
            source: MediaSource::ScreenshareAudio,
            muted: true
        }),
        json!({"type": "mute", "source": "screenshare_audio", "muted": true})
    );
    assert_eq!(
        to_value(&ClientMessage::Ping { nonce: None }),
        json!({"type": "ping"})
    );
    assert_eq!(
        to_value(&ClientMessage::Ping {
            nonce: Some(json!("7"))
        }),
        json!({"type": "ping", "nonce": "7"})
    );
    assert_eq!(to_value(&ClientMessage::Leave {}), json!({"type": "leave"}));
    assert_eq!(
        to_value(&ClientMessage::TrackSettings {
            track_id: "p_bob-1".into(),
            width: Some(320),
            height: Some(180),
            paused: false
        }),
        json!({"type": "track_settings", "track_id": "p_bob-1", "width": 320, "height": 180})
    );
    assert_eq!(
        to_value(&ClientMessage::TrackSettings {
            track_id: "p_bob-1".into(),
            width: None,
            height: None,
            paused: true
        }),
        json!({"type": "track_settings", "track_id": "p_bob-1", "paused": true})
    );
}

#[test]
fn joined_with_documented_objects() {
    let message = parse(json!({
        "type": "joined",
        "protocol": 1,
        "participant_id": "p_self",
        "room": {"channel_id": "vc_general", "server_id": "srv_harbor", "kind": "voice"},
        "self": {"user_id": "carol", "device_id": "laptop",
                 "grants": {"microphone": true, "camera": false, "screenshare": false, "screenshare_audio": false}},
        "participants": [{"participant_id": "p_...", "user_id": "alice", "device_id": "laptop",
                          "tracks": [{"track_id": "...", "source": "microphone", "kind": "audio", "muted": false}]}],
        "keepalive_interval_ms": 15000
    }));
    let ServerMessage::Joined(Joined {
        protocol,
        participant_id,
        room,
        self_info,
        participants,
        keepalive_interval_ms,
    }) = message
    else {
        panic!("not joined: {message:?}");
    };
    assert_eq!(protocol, 1);
    assert_eq!(participant_id, "p_self");
    assert_eq!(room.kind, "voice");
    assert!(self_info.grants.microphone);
    assert!(!self_info.grants.camera);
    assert_eq!(participants[0].user_id, "alice");
    assert_eq!(participants[0].tracks[0].source, MediaSource::Microphone);
    assert_eq!(participants[0].tracks[0].kind, TrackKind::Audio);
    assert_eq!(keepalive_interval_ms, 15_000);
}

#[test]
fn every_server_frame_type_parses() {
    assert_eq!(
        parse(json!({"type": "answer", "sdp": "v=0"})),
        ServerMessage::Answer { sdp: "v=0".into() }
    );
    assert_eq!(
        parse(json!({"type": "offer", "sdp": "v=0"})),
        ServerMessage::Offer { sdp: "v=0".into() }
    );
    // The server never sends `candidate` (its candidates are in its SDP); a client reads one as
    // an unknown frame.
    assert_eq!(
        parse(
            json!({"type": "candidate", "candidate": "candidate:1 1 udp 2130706431 127.0.0.1 3478 typ host", "sdp_mid": "0"})
        ),
        ServerMessage::Unknown
    );
    assert_eq!(
        parse(json!({"type": "participant_joined", "participant":
            {"participant_id": "p_2", "user_id": "bob", "device_id": "phone", "tracks": []}})),
        ServerMessage::ParticipantJoined {
            participant: Participant {
                participant_id: "p_2".into(),
                user_id: "bob".into(),
                device_id: "phone".into(),
                tracks: vec![],
                speaking: false,
                muted: vec![],
                server_muted: false,
            }
        }
    );
    for reason in ["left", "timeout", "kicked"] {
        assert_eq!(
            parse(json!({"type": "participant_left", "participant_id": "p_2", "reason": reason})),
            ServerMessage::ParticipantLeft {
                participant_id: "p_2".into(),
                reason: reason.into()
            }
        );
    }
    assert_eq!(
        parse(
            json!({"type": "track_published", "participant_id": "p_2", "track_id": "t_1",
                     "source": "microphone", "kind": "audio", "mid": "1"})
        ),
        ServerMessage::TrackPublished {
            participant_id: "p_2".into(),
            track_id: "t_1".into(),
            source: MediaSource::Microphone,
            kind: TrackKind::Audio,
            mid: "1".into()
        }
    );
    assert_eq!(
        parse(json!({"type": "track_unpublished", "participant_id": "p_2", "track_id": "t_1"})),
        ServerMessage::TrackUnpublished {
            participant_id: "p_2".into(),
            track_id: "t_1".into()
        }
    );
    assert_eq!(
        parse(json!({"type": "speaking", "participant_id": "p_2", "speaking": true, "level": 30})),
        ServerMessage::Speaking {
            participant_id: "p_2".into(),
            speaking: true,
            level: 30
        }
    );
    assert_eq!(
        parse(json!({"type": "muted", "participant_id": "p_2", "source": "camera", "muted": true})),
        ServerMessage::Muted {
            participant_id: "p_2".into(),
            source: MediaSource::Camera,
            muted: true
        }
    );
    assert_eq!(
        parse(
            json!({"type": "error", "code": "negotiation_glare", "message": "answer first", "fatal": false})
        ),
        ServerMessage::Error {
            code: "negotiation_glare".into(),
            message: "answer first".into(),
            fatal: false
        }
    );
    assert_eq!(
        parse(json!({"type": "pong", "nonce": "7"})),
        ServerMessage::Pong {
            nonce: Some(json!("7"))
        }
    );
    assert_eq!(
        parse(json!({"type": "pong"})),
        ServerMessage::Pong { nonce: None }
    );
}

#[test]
fn unknown_types_and_sources_are_tolerated() {
    assert_eq!(
        parse(json!({"type": "room_renamed", "name": "x"})),
        ServerMessage::Unknown
    );
    let ServerMessage::Muted { source, .. } = parse(
        json!({"type": "muted", "participant_id": "p", "source": "hologram", "muted": false}),
    ) else {
        panic!("not muted");
    };
    assert_eq!(source, MediaSource::Unknown);
}

#[test]
fn badly_typed_frames_are_errors() {
    for bad in [
        json!({"type": "speaking", "participant_id": "p", "speaking": "yes"}),
        json!({"type": "answer"}),
        json!({"sdp": "v=0"}),
        json!([1, 2]),
    ] {
        assert!(ServerMessage::from_json(&bad.to_string()).is_err(), "{bad}");
    }
}

#[test]
fn going_away_parses() {
    match parse(json!({"type": "going_away", "reason": "drain", "reconnect": true})) {
        ServerMessage::GoingAway { reason, reconnect } => {
            assert_eq!(reason, GoingAwayReason::Drain);
            assert!(reconnect);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_error_table_lists_exactly_the_codes() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md"))
        .expect("protocol.md");
    let start = docs
        .find("### Error codes on the WebSocket")
        .expect("the error section");
    let table = &docs[start..];
    let table = &table[..table[4..].find("\n### ").map_or(table.len(), |i| i + 4)];
    let listed: Vec<&str> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    let codes: Vec<&str> = openchat_protocol::ErrorCode::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    assert_eq!(
        listed, codes,
        "docs/protocol.md's table against ErrorCode::ALL, in order"
    );
}
