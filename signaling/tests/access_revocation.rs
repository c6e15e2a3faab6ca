//! A revoked device or a removed member loses access everywhere at once: every authenticated route
//! answers `403 device_revoked`, earlier join tickets are refused at redemption, open signaling
//! sessions end with a fatal code (the others see `participant_left` with reason `removed`), the
//! realtime session is closed, and a live call's media stops. On both databases, and across two
//! `openchatd` nodes sharing one PostgreSQL.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::joiner::{JoinerProcess, read_wav};
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

/// How long a change may take to reach a live session (generous: the bound is the dispatcher's
/// wake-up, well under a second, on a loaded 2-core machine).
const REACH: Duration = Duration::from_secs(10);

/// Registers `user`'s first device `first` and links `second` to it; returns both tokens.
async fn two_linked_devices(
    s: &TestServer,
    user: &str,
    first: &str,
    second: &str,
) -> (String, String) {
    let t1 = s.device_token(user, first).await;
    let (status, body) = s
        .call(
            Method::POST,
            "/v1/devices/link/start",
            Some(&t1),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 201, "link start: {body}");
    let code = body["code"].as_str().expect("link code").to_string();
    let t2 = s.device_token(user, second).await;
    let (status, body) = s
        .call(
            Method::POST,
            "/v1/devices/link/confirm",
            Some(&t2),
            Some(json!({"code": code})),
        )
        .await;
    assert_eq!(status, 201, "link confirm: {body}");
    (t1, t2)
}

/// Opens a realtime session with `token` and waits for `ready`.
async fn realtime(s: &TestServer, token: &str) -> Ws {
    let url = format!(
        "{}/v1/realtime?access_token={token}",
        s.base.replacen("http", "ws", 1)
    );
    let (stream, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("realtime connects");
    let mut ws = Ws { stream };
    ws.recv_type("ready").await;
    ws
}

/// The status with which the realtime upgrade is refused for `token`.
async fn realtime_refusal(s: &TestServer, token: &str) -> u16 {
    let url = format!(
        "{}/v1/realtime?access_token={token}",
        s.base.replacen("http", "ws", 1)
    );
    match tokio_tungstenite::connect_async(url).await {
        Ok(_) => panic!("the realtime upgrade was accepted"),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("unexpected realtime error: {e}"),
    }
}

/// Waits for the fatal error frame that ends a session; returns its code. Frames before it
/// (events, roster changes) are skipped.
async fn fatal_code(ws: &mut Ws) -> String {
    let deadline = Instant::now() + REACH;
    loop {
        assert!(Instant::now() < deadline, "no fatal error within {REACH:?}");
        let frame = ws.recv().await.expect("an error frame before the close");
        if frame["type"] == "error" {
            if frame["fatal"] == json!(false) {
                continue;
            }
            return frame["code"].as_str().expect("code").to_string();
        }
    }
}

/// Waits until `ws` sees `participant_id` leave; returns the reason.
async fn left_reason(ws: &mut Ws, participant_id: &Value) -> String {
    loop {
        let frame = ws.recv_type("participant_left").await;
        if &frame["participant_id"] == participant_id {
            return frame["reason"].as_str().expect("reason").to_string();
        }
    }
}

/// The dev server's owner removes `user` from `srv_harbor`.
async fn remove_from_harbor(s: &TestServer, user: &str) {
    let owner = s.dev_token("dev-owner").await;
    let (status, body) = s
        .call(
            Method::DELETE,
            &format!("/v1/servers/srv_harbor/members/{user}"),
            Some(&owner),
            None,
        )
        .await;
    assert!(
        status == 200 || status == 204,
        "remove {user}: {status} {body}"
    );
}

async fn assert_closed(ws: &mut Ws) {
    let closed = tokio::time::timeout(REACH, ws.closed()).await;
    assert!(closed.is_ok(), "the server kept the socket open");
}

async fn revoked_device(s: &TestServer) {
    let (a1, a2) = two_linked_devices(s, "alice", "a1", "a2").await;
    let early_ticket = s.ticket_with(&a2, "vc_general").await;
    let live_ticket = s.ticket_with(&a2, "vc_general").await;
    let mut in_room = s.ws().await;
    let joined = in_room.join(&live_ticket).await;
    let a2_participant = joined["participant_id"].clone();
    let mut carol = s.ws().await;
    carol.join(&s.ticket("carol", "vc_general").await).await;
    let mut a2_realtime = realtime(s, &a2).await;

    let (status, body) = s
        .call(Method::DELETE, "/v1/devices/a2", Some(&a1), None)
        .await;
    assert_eq!(status, 200, "revoke: {body}");
    let revoked = Instant::now();

    assert_eq!(fatal_code(&mut in_room).await, "device_revoked");
    eprintln!(
        "the revoked device's signaling session ended {} ms after the revocation answered",
        revoked.elapsed().as_millis()
    );
    assert_closed(&mut in_room).await;
    assert_eq!(left_reason(&mut carol, &a2_participant).await, "removed");
    assert_eq!(fatal_code(&mut a2_realtime).await, "device_revoked");
    assert_closed(&mut a2_realtime).await;

    for (method, path, body) in [
        (Method::GET, "/v1/devices", None),
        (Method::GET, "/v1/servers", None),
        (Method::GET, "/v1/channels/vc_general/history", None),
        (
            Method::POST,
            "/v1/channels/vc_general/messages",
            Some(json!({"epoch": 0, "ciphertext": "AAAA"})),
        ),
        (Method::GET, "/v1/profile/me", None),
        (
            Method::POST,
            "/v1/rtc/channels/vc_general/join-ticket",
            Some(json!({})),
        ),
        (Method::POST, "/v1/devices/link/start", Some(json!({}))),
    ] {
        let (status, answer) = s.call(method.clone(), path, Some(&a2), body).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (403, Some("device_revoked")),
            "{method} {path}: {answer}"
        );
    }
    assert_eq!(realtime_refusal(s, &a2).await, 403);

    let mut late = s.ws().await;
    late.send(json!({"type": "join", "protocol": 1, "ticket": early_ticket}))
        .await;
    assert_eq!(fatal_code(&mut late).await, "device_revoked");

    let (status, body) = s.call(Method::GET, "/v1/devices", Some(&a1), None).await;
    assert_eq!(status, 200, "the other device keeps working: {body}");
}
on_both_databases!(
    a_revoked_device_is_refused_everywhere_at_once,
    revoked_device
);

async fn removed_member(s: &TestServer) {
    let bob = s.dev_token("bob").await;
    let live_ticket = s.ticket_with(&bob, "vc_general").await;
    let early_ticket = s.ticket_with(&bob, "vc_general").await;
    let mut in_room = s.ws().await;
    let bob_participant = in_room.join(&live_ticket).await["participant_id"].clone();
    let mut carol = s.ws().await;
    carol.join(&s.ticket("carol", "vc_general").await).await;

    remove_from_harbor(s, "bob").await;

    let removed = Instant::now();
    assert_eq!(fatal_code(&mut in_room).await, "membership_revoked");
    eprintln!(
        "the removed member's signaling session ended {} ms after the removal answered",
        removed.elapsed().as_millis()
    );
    assert_closed(&mut in_room).await;
    assert_eq!(left_reason(&mut carol, &bob_participant).await, "removed");

    let mut late = s.ws().await;
    late.send(json!({"type": "join", "protocol": 1, "ticket": early_ticket}))
        .await;
    assert_eq!(fatal_code(&mut late).await, "membership_revoked");
}
on_both_databases!(a_removed_member_leaves_the_room_at_once, removed_member);

/// A private channel the caller may not see answers 404 like a missing one.
async fn invisible_channels(s: &TestServer) {
    let owner = s.dev_token("dev-owner").await;
    let (status, body) = s
        .call(
            Method::POST,
            "/v1/servers",
            Some(&owner),
            Some(json!({"name": "Private"})),
        )
        .await;
    assert_eq!(status, 201, "create server: {body}");
    let server_id = body["id"].as_str().expect("server id").to_string();
    let (status, body) = s
        .call(
            Method::POST,
            &format!("/v1/servers/{server_id}/channels"),
            Some(&owner),
            Some(json!({"name": "secret", "kind": "voice"})),
        )
        .await;
    assert_eq!(status, 201, "create channel: {body}");
    let channel_id = body["id"].as_str().expect("channel id").to_string();
    let outsider = s.dev_token("mallory").await;
    for channel in [channel_id.as_str(), "vc_does_not_exist"] {
        let (status, body) = s
            .post(
                &format!("/v1/rtc/channels/{channel}/join-ticket"),
                Some(&outsider),
                json!({}),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("channel_not_found")),
            "{channel}: {body}"
        );
    }
}
on_both_databases!(an_invisible_channel_is_not_found, invisible_channels);

/// The seconds of audio in `dir/<from>.wav`, 0 when nothing was written.
fn seconds_heard(dir: &Path, from: &str) -> f32 {
    let path = dir.join(format!("{from}.wav"));
    if !path.exists() {
        return 0.0;
    }
    let (samples, rate) = read_wav(&path);
    samples.len() as f32 / rate as f32
}

fn forwarded(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("openchat_sfu_packets_forwarded_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A removed member's rtc-joiner stops hearing the call: it ends with `membership_revoked` long
/// before its planned duration, having recorded only what came before the removal.
async fn removed_members_call_stops(s: &TestServer) {
    let dirs = tempfile::tempdir().expect("tempdir");
    let bob_dir = dirs.path().join("bob");
    let alice = JoinerProcess::spawn(
        "alice",
        &s.base,
        &[
            "--channel-id",
            "vc_general",
            "--user",
            "alice",
            "--tone-hz",
            "440",
            "--duration",
            "25",
        ],
    );
    let started = Instant::now();
    let bob = JoinerProcess::spawn(
        "bob",
        &s.base,
        &[
            "--channel-id",
            "vc_general",
            "--user",
            "bob",
            "--duration",
            "25",
            "--write-received-dir",
            bob_dir.to_str().expect("utf8"),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, metrics) = s.get("/metrics").await;
        if forwarded(&metrics) > 150 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "bob never received alice's audio"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    remove_from_harbor(s, "bob").await;
    let removed_at = started.elapsed().as_secs_f32();
    let (ok, stdout, stderr) =
        tokio::task::spawn_blocking(move || bob.wait(Duration::from_secs(30)))
            .await
            .expect("bob waited");
    let ended_at = started.elapsed().as_secs_f32();
    assert!(!ok, "bob's joiner should end with the fatal error");
    assert!(
        format!("{stdout}{stderr}").contains("membership_revoked"),
        "bob's joiner names the code:\n{stdout}\n{stderr}"
    );
    assert!(
        ended_at < removed_at + 8.0,
        "bob ended {:.1} s after the removal",
        ended_at - removed_at
    );
    let heard = seconds_heard(&bob_dir, "alice");
    eprintln!(
        "removed {removed_at:.1} s after bob started; bob ended at {ended_at:.1} s having heard {heard:.1} s"
    );
    assert!(heard > 1.0, "bob heard {heard:.1} s before the removal");
    assert!(
        heard < removed_at + 2.0,
        "bob heard {heard:.1} s of audio though removed {removed_at:.1} s after starting"
    );
    drop(alice);
}
on_both_databases!(
    a_removed_members_live_call_stops,
    removed_members_call_stops
);

/// Two nodes on one PostgreSQL: the revocation and the removal are made through node A; the
/// sessions live on node B and end all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_sessions_on_another_node() {
    let Some(a) = TestServer::start(Db::Postgres).await else {
        eprintln!("skipped: DATABASE_URL is not set");
        assert!(
            std::env::var("CI").ok().as_deref() != Some("true"),
            "CI needs PostgreSQL"
        );
        return;
    };
    let b = a.second_node("node-b").await;

    let (a1_on_a, _) = two_linked_devices(&a, "alice", "a1", "a2").await;
    let a2_on_b = b.device_token("alice", "a2").await;
    let mut alice_room = b.ws().await;
    alice_room
        .join(&b.ticket_with(&a2_on_b, "vc_general").await)
        .await;
    let mut alice_realtime = realtime(&b, &a2_on_b).await;

    let bob_on_b = b.dev_token("bob").await;
    let bob_early_ticket = b.ticket_with(&bob_on_b, "vc_general").await;
    let mut bob_room = b.ws().await;
    bob_room
        .join(&b.ticket_with(&bob_on_b, "vc_general").await)
        .await;

    let (status, body) = a
        .call(Method::DELETE, "/v1/devices/a2", Some(&a1_on_a), None)
        .await;
    assert_eq!(status, 200, "revoke on node A: {body}");
    remove_from_harbor(&a, "bob").await;

    let changed = Instant::now();
    assert_eq!(fatal_code(&mut alice_room).await, "device_revoked");
    eprintln!(
        "node B ended the revoked device's session {} ms after node A answered the removal",
        changed.elapsed().as_millis()
    );
    assert_eq!(fatal_code(&mut alice_realtime).await, "device_revoked");
    assert_eq!(fatal_code(&mut bob_room).await, "membership_revoked");
    let (status, body) = b
        .call(Method::GET, "/v1/devices", Some(&a2_on_b), None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("device_revoked"))
    );
    let mut late = b.ws().await;
    late.send(json!({"type": "join", "protocol": 1, "ticket": bob_early_ticket}))
        .await;
    assert_eq!(fatal_code(&mut late).await, "membership_revoked");

    b.stop().await;
    a.stop().await;
}
