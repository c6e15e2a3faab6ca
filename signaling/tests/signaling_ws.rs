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
    for bad in [
        "not json",
        "{}",
        r#"{"type":"dance"}"#,
        r#"{"type":"join","protocol":"x"}"#,
        "[1,2]",
    ] {
        ws.send_raw(Message::Text(bad.into())).await;
        assert_eq!(ws.error_code().await, "invalid_message", "for {bad}");
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
    assert_eq!(ws.error_code().await, "invalid_sdp");
    ws.send(json!({"type": "ping", "nonce": 42})).await;
    assert_eq!(ws.recv_type("pong").await["nonce"], 42);
    // More than 20 invalid frames close the session.
    for _ in 0..21 {
        ws.send_raw(Message::Text("junk".into())).await;
    }
    assert!(ws.closed().await);
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
    let sdp = answer["sdp"].as_str().expect("sdp");
    assert!(
        sdp.contains("m=video 0 "),
        "video rejected in the answer: {sdp}"
    );
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
    let seen = a.recv_type("participant_joined").await;
    assert_eq!(seen["participant"]["user_id"], "bob");
    b.send(json!({"type": "mute", "source": "microphone", "muted": true}))
        .await;
    let muted = a.recv_type("muted").await;
    assert_eq!(muted["muted"], true);
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
