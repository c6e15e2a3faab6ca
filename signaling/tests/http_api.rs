//! HTTP API: health, capabilities, metrics, access tokens and join-ticket refusals, on both databases.

mod common;

use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

fn token_signed_with(secret: &str, sub: &str, exp_offset: i64) -> String {
    let now = signaling::auth::unix_now() as i64;
    let claims = json!({"sub": sub, "iss": "openchat", "aud": "openchat", "exp": now + exp_offset, "iat": now});
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("encode")
}

async fn public_endpoints(s: &TestServer) {
    assert_eq!(s.get("/healthz").await.0, 200);
    assert_eq!(s.get("/readyz").await.0, 200);
    let (status, caps) = s.get("/v1/client/capabilities").await;
    assert_eq!(status, 200);
    let caps: serde_json::Value = serde_json::from_str(&caps).expect("json");
    assert_eq!(caps["protocol_version"], 1);
    assert_eq!(caps["rtc"]["audio_codecs"][0], "opus");
    assert_eq!(caps["rtc"]["video_codecs"], json!(["vp8", "h264", "vp9"]));
    assert_eq!(caps["rtc"]["room_kinds"], json!(["voice", "video"]));
    let (status, metrics) = s.get("/metrics").await;
    assert_eq!(status, 200);
    for name in [
        "openchat_sfu_packets_forwarded_total",
        "openchat_sfu_peers",
        "process_cpu_seconds_total",
    ] {
        assert!(metrics.contains(name), "metrics lack {name}");
    }
    let (status, body) = s.get("/v1/nope").await;
    assert_eq!(status, 404);
    assert!(body.contains("not_found"));
}
on_both_databases!(public_endpoints_answer, public_endpoints);

async fn ticket_rules(s: &TestServer) {
    let alice = s.dev_token("alice").await;
    // A member of srv_harbor (development mode admits anyone) gets a voice ticket.
    let (status, body) = s
        .post(
            "/v1/rtc/channels/vc_general/join-ticket",
            Some(&alice),
            json!({"server_id": "srv_harbor"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["room_kind"], "voice");
    assert_eq!(body["grants"]["microphone"], true);
    assert_eq!(body["grants"]["camera"], false);
    // Unknown channel, wrong server, text channel.
    let (status, body) = s
        .post(
            "/v1/rtc/channels/vc_nope/join-ticket",
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("channel_not_found"))
    );
    let (status, body) = s
        .post(
            "/v1/rtc/channels/vc_general/join-ticket",
            Some(&alice),
            json!({"server_id": "srv_other"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("channel_not_found"))
    );
    let (status, body) = s
        .post(
            "/v1/rtc/channels/tc_lobby/join-ticket",
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("not_an_rtc_channel"))
    );
    // Non-member of a private server.
    let (status, _) = s
        .post(
            "/v1/servers",
            Some(&alice),
            json!({"name": "Private", "id": "srv_private"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = s
        .post(
            "/v1/servers/srv_private/channels",
            Some(&alice),
            json!({"name": "Talk", "kind": "voice", "id": "vc_private"}),
        )
        .await;
    assert_eq!(status, 201);
    let bob = s.dev_token("bob").await;
    let (status, body) = s
        .post(
            "/v1/rtc/channels/vc_private/join-ticket",
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("channel_not_found")),
        "a channel the caller may not see answers like a missing one"
    );
    let (status, _) = s
        .post(
            "/v1/rtc/channels/vc_private/join-ticket",
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    // Malformed body.
    let (status, body) = s
        .post(
            "/v1/rtc/channels/vc_general/join-ticket",
            Some(&alice),
            json!({"server": 1}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );
}
on_both_databases!(join_ticket_rules, ticket_rules);

async fn token_refusals(s: &TestServer) {
    let path = "/v1/rtc/channels/vc_general/join-ticket";
    let (status, body) = s.post(path, None, json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("missing_token"))
    );
    let forged = token_signed_with("not-the-server-key", "alice", 600);
    let (status, body) = s.post(path, Some(&forged), json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_token"))
    );
    let key = std::fs::read_to_string(s.data_path("dev-signing-key")).expect("dev key");
    let expired = token_signed_with(key.trim(), "alice", -600);
    let (status, body) = s.post(path, Some(&expired), json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("token_expired"))
    );
    let valid = token_signed_with(key.trim(), "alice", 600);
    assert_eq!(s.post(path, Some(&valid), json!({})).await.0, 200);
    let (status, body) = s.post(path, Some("garbage"), json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_token"))
    );
    let bad_sub = token_signed_with(key.trim(), "al ice/../", 600);
    assert_eq!(s.post(path, Some(&bad_sub), json!({})).await.0, 401);
    let (status, body) = s.post("/v1/dev/token", None, json!({"user_id": ""})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );
}
on_both_databases!(access_token_refusals, token_refusals);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_mode_has_no_shortcuts() {
    let server = TestServer::start_with(
        Db::Sqlite,
        &[
            ("mode", "production"),
            ("auth.secret", "a-production-secret-of-some-length"),
        ],
    )
    .await
    .expect("server");
    let (status, body) = server
        .post("/v1/dev/token", None, json!({"user_id": "alice"}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("dev_mode_disabled"))
    );
    let token = token_signed_with("a-production-secret-of-some-length", "alice", 600);
    let (status, body) = server
        .post(
            "/v1/rtc/channels/vc_general/join-ticket",
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("channel_not_found"))
    );
    assert!(!server.data_path("dev-signing-key").exists());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_rate_gets_429_with_retry_after() {
    let server = TestServer::start_with(
        Db::Sqlite,
        &[("limits.user_burst", "2"), ("limits.user_rps", "0.5")],
    )
    .await
    .expect("server");
    let token = server.dev_token("alice").await;
    let path = "/v1/rtc/channels/vc_general/join-ticket";
    assert_eq!(server.post(path, Some(&token), json!({})).await.0, 200);
    assert_eq!(server.post(path, Some(&token), json!({})).await.0, 200);
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", server.base))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 429);
    let retry: u64 = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=2).contains(&retry), "retry after {retry}");
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");
    // Another user is unaffected.
    let bob = server.dev_token("bob").await;
    assert_eq!(server.post(path, Some(&bob), json!({})).await.0, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_is_served_without_a_token() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let (status, body) = server.get("/v1/openapi.json").await;
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    for path in [
        "/v1/rtc/channels/{channel_id}/join-ticket",
        "/v1/channels/{channel_id}/messages",
    ] {
        assert!(doc["paths"].get(path).is_some(), "document lacks {path}");
    }
    server.stop().await;
}

/// Every operation of the served document answers on the live application: the route exists
/// (no 405, not the fallback's `not_found`) and the status is one its entry lists; with a token
/// and with none, so both the auth layer and the handlers answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_answers_on_the_application() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let (_, body) = server.get("/v1/openapi.json").await;
    let doc: serde_json::Value = serde_json::from_str(&body).expect("json");
    let token = server.dev_token("alice").await;
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let Ok(method) = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue;
            };
            operations += 1;
            let uri: String = path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "x" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            for token in [None, Some(token.as_str())] {
                let (status, answer) = server.call(method.clone(), &uri, token, None).await;
                let what = format!("{method} {uri} (token: {})", token.is_some());
                assert_ne!(status, 405, "{what}");
                assert_ne!(
                    answer["error"]["code"], "not_found",
                    "{what}: no such route"
                );
                assert!(
                    operation["responses"].get(status.to_string()).is_some(),
                    "{what}: {status} is not documented ({answer})"
                );
            }
        }
    }
    assert!(operations > 45, "operations in the document: {operations}");
    // What is not API is not in the document, and an unknown route is the fallback's.
    for path in ["/", "/app.js", "/style.css"] {
        assert!(doc["paths"].get(path).is_none(), "{path} is documented");
        assert_eq!(server.get(path).await.0, 200, "{path}");
    }
    let (status, answer) = server
        .call(reqwest::Method::GET, "/v1/nope", None, None)
        .await;
    assert_eq!(
        (status, &answer["error"]["code"]),
        (404, &json!("not_found"))
    );
    server.stop().await;
}
