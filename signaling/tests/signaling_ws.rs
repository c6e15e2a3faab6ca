//! The signaling WebSocket: ticket redemption, frame validation and media-policy errors.

mod common;

use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use str0m::media::{Direction, MediaKind};
use tokio_tungstenite::tungstenite::Message;

fn ticket_with(key: &str, grants: serde_json::Value, exp_offset: i64) -> String {
    let now = signaling::auth::unix_now() as i64;
    let claims = json!({
        "sub": "mallory", "did": "d", "chn": "vc_general", "srv": "srv_harbor", "knd": "voice",
        "grt": grants, "node": "local", "jti": uuid::Uuid::new_v4().to_string(),
        "exp": now + exp_offset, "iat": now, "aud": "openchat-rtc",
    });
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )
    .expect("encode")
}

fn no_grants() -> serde_json::Value {
    json!({"microphone": false, "camera": false, "screenshare": false, "screenshare_audio": false})
}

async fn ticket_refusals(s: &TestServer) {
    // Replay.
    let ticket = s.ticket("alice", "vc_general").await;
    let mut first = s.ws().await;
    first.join(&ticket).await;
    let mut second = s.ws().await;
    second
        .send(json!({"type": "join", "protocol": 1, "ticket": ticket}))
        .await;
    assert_eq!(second.error_code().await, "ticket_replayed");
    assert!(second.closed().await);
    // Forged.
    let mut ws = s.ws().await;
    ws.send(json!({"type": "join", "protocol": 1, "ticket": ticket_with("forged-key", no_grants(), 60)})).await;
    assert_eq!(ws.error_code().await, "ticket_invalid");
    // Expired.
    let mut ws = s.ws().await;
    ws.send(json!({"type": "join", "protocol": 1, "ticket": ticket_with(&ticket_key(s), no_grants(), -5)})).await;
    assert_eq!(ws.error_code().await, "ticket_expired");
    // Garbage.
    let mut ws = s.ws().await;
    ws.send(json!({"type": "join", "protocol": 1, "ticket": "not-a-ticket"}))
        .await;
    assert_eq!(ws.error_code().await, "ticket_invalid");
    // Wrong protocol.
    let mut ws = s.ws().await;
    ws.send(
        json!({"type": "join", "protocol": 2, "ticket": s.ticket("carol", "vc_general").await}),
    )
    .await;
    assert_eq!(ws.error_code().await, "unsupported_protocol");
}
on_both_databases!(tickets_are_single_use_and_verified, ticket_refusals);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_get_invalid_message() {
    let s = TestServer::start(Db::Sqlite).await.expect("server");
    let mut ws = s.ws().await;
    for (bad, says) in [
        ("not json", "the frame is not valid JSON"),
        (
            "{}",
            "a frame must be a JSON object with a string field \"type\"",
        ),
        (r#"{"type":"dance"}"#, "unknown frame type \"dance\""),
        (
            r#"{"type":"join","protocol":"x"}"#,
            "join frame: invalid type",
        ),
        (
            "[1,2]",
            "a frame must be a JSON object with a string field \"type\"",
        ),
    ] {
        ws.send_raw(Message::Text(bad.into())).await;
        let error = ws.recv_type("error").await;
        assert_eq!(error["code"], "invalid_message", "for {bad}");
        let message = error["message"].as_str().expect("message");
        assert!(message.starts_with(says), "for {bad}: {message}");
    }
    ws.send_raw(Message::Binary(vec![1, 2, 3].into())).await;
    assert_eq!(ws.error_code().await, "invalid_message");
    // Still usable: a valid join works after the junk.
    let joined = ws.join(&s.ticket("alice", "vc_general").await).await;
    assert_eq!(joined["room"]["kind"], "voice");
    assert_eq!(joined["self"]["user_id"], "alice");
    ws.send(json!({"type": "join", "protocol": 1, "ticket": "x"}))
        .await;
    assert_eq!(ws.error_code().await, "already_joined");
    ws.send(json!({"type": "answer", "sdp": "v=0"})).await;
    assert_eq!(ws.error_code().await, "no_pending_offer");
    ws.send(json!({"type": "offer", "sdp": "this is not sdp"}))
        .await;
    let error = ws.recv_type("error").await;
    assert_eq!(error["code"], "invalid_sdp");
    assert_eq!(error["message"], "the offer is not valid SDP");
    ws.send(json!({"type": "ping", "nonce": 42})).await;
    assert_eq!(ws.recv_type("pong").await["nonce"], 42);
    // More than 20 invalid frames close the session.
    for _ in 0..21 {
        ws.send_raw(Message::Text("junk".into())).await;
    }
    assert!(ws.closed().await);
    // Every error frame is counted by code.
    let (_, metrics) = s.get("/metrics").await;
    let count = |code: &str| -> u64 {
        let key = format!("openchat_signaling_errors_total{{code=\"{code}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(key.as_str()))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    assert_eq!(count("invalid_message"), 6 + 21, "{metrics}");
    assert_eq!(count("invalid_sdp"), 1);
    assert_eq!(count("no_pending_offer"), 1);
    assert_eq!(count("already_joined"), 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_frame_must_be_join() {
    let s = TestServer::start(Db::Sqlite).await.expect("server");
    let mut ws = s.ws().await;
    ws.send(json!({"type": "ping"})).await;
    assert_eq!(ws.error_code().await, "join_required");
    assert!(ws.closed().await);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_in_voice_room_is_refused() {
    let s = TestServer::start(Db::Sqlite).await.expect("server");
    let mut ws = s.ws().await;
    ws.join(&s.ticket("alice", "vc_general").await).await;
    let sdp = client_offer(&[
        (MediaKind::Audio, Direction::SendRecv),
        (MediaKind::Video, Direction::SendRecv),
    ]);
    ws.send(json!({"type": "offer", "sdp": sdp})).await;
    assert_eq!(ws.error_code().await, "media_source_not_allowed");
    let answer = ws.recv_type("answer").await;
    let answer = answer["sdp"].as_str().expect("sdp");
    // Rejected with the payload type the client offered first, and its rtpmap.
    let offered = &sdp[sdp.find("m=video").expect("video offered")..];
    let pt = offered.split(' ').nth(3).expect("payload type").trim();
    let rtpmap = offered
        .lines()
        .find(|l| l.starts_with(&format!("a=rtpmap:{pt} ")))
        .expect("offered rtpmap");
    let rejected = &answer[answer.find("m=video").expect("video answered")..];
    assert!(
        rejected.starts_with(&format!("m=video 0 UDP/TLS/RTP/SAVPF {pt}\r\n")),
        "video rejected in the answer: {answer}"
    );
    assert!(rejected.lines().any(|l| l == rtpmap), "{answer}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_without_grant_is_refused() {
    let s = TestServer::start(Db::Sqlite).await.expect("server");
    // Redemption re-checks membership: mallory joins the dev server by asking for a ticket once.
    s.ticket("mallory", "vc_general").await;
    let mut ws = s.ws().await;
    ws.join(&ticket_with(&ticket_key(&s), no_grants(), 60))
        .await;
    let sdp = client_offer(&[(MediaKind::Audio, Direction::SendRecv)]);
    ws.send(json!({"type": "offer", "sdp": sdp, "tracks": [{"mid": "0", "source": "microphone"}]}))
        .await;
    assert_eq!(ws.error_code().await, "publish_not_permitted");
    let answer = ws.recv_type("answer").await;
    assert!(
        answer["sdp"].as_str().expect("sdp").contains("a=sendonly"),
        "server only sends on that m-line"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participants_see_each_other_come_and_go() {
    let s = TestServer::start(Db::Sqlite).await.expect("server");
    let mut a = s.ws().await;
    let joined_a = a.join(&s.ticket("alice", "vc_general").await).await;
    assert_eq!(joined_a["participants"].as_array().map(Vec::len), Some(0));
    let mut b = s.ws().await;
    let joined_b = b.join(&s.ticket("bob", "vc_general").await).await;
    assert_eq!(joined_b["participants"][0]["user_id"], "alice");
    assert_eq!(joined_b["participants"][0]["speaking"], false);
    assert_eq!(joined_b["participants"][0]["muted"], json!([]));
    let seen = a.recv_type("participant_joined").await;
    assert_eq!(seen["participant"]["user_id"], "bob");
    b.send(json!({"type": "mute", "source": "microphone", "muted": true}))
        .await;
    let muted = a.recv_type("muted").await;
    assert_eq!(muted["muted"], true);
    // A late joiner learns what is muted from `joined`.
    let mut c = s.ws().await;
    let joined_c = c.join(&s.ticket("carol", "vc_general").await).await;
    let bob = joined_c["participants"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["user_id"] == "bob"))
        .cloned()
        .expect("bob listed");
    assert_eq!(bob["muted"], json!(["microphone"]));
    assert_eq!(bob["speaking"], false);
    b.send(json!({"type": "leave"})).await;
    let left = a.recv_type("participant_left").await;
    assert_eq!(left["participant_id"], joined_b["participant_id"]);
    assert_eq!(left["reason"], "left");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_session_hits_keepalive_timeout() {
    let s = TestServer::start_with(Db::Sqlite, &[("rtc.keepalive_interval_ms", "1000")])
        .await
        .expect("server");
    let mut ws = s.ws().await;
    let joined = ws.join(&s.ticket("alice", "vc_general").await).await;
    assert_eq!(joined["keepalive_interval_ms"], 1000);
    // No frames from us: the server gives up after three intervals.
    assert_eq!(ws.error_code().await, "keepalive_timeout");
    assert!(ws.closed().await);
    s.stop().await;
}

/// `track_settings` reaches the media plane: a track the session does not receive is refused with
/// `unknown_track` (not fatal), and a malformed one with `invalid_message`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn track_settings_are_checked() {
    let s = TestServer::start(Db::Sqlite).await.expect("server");
    let mut a = s.ws().await;
    a.join(&s.ticket("alice", "vc_video").await).await;
    a.send(json!({"type": "track_settings", "track_id": "p_nobody-s1", "paused": true}))
        .await;
    let refused = a.recv_type("error").await;
    assert_eq!(refused["code"], "unknown_track");
    assert_eq!(refused["fatal"], false);
    a.send(json!({"type": "track_settings", "track_id": "p_nobody-s1"}))
        .await;
    assert_eq!(a.error_code().await, "invalid_message");
    a.send(json!({"type": "ping", "nonce": 1})).await;
    assert_eq!(a.recv_type("pong").await["nonce"], 1, "the session goes on");
    s.stop().await;
}
