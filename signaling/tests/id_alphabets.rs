//! The two id alphabets of `openchat_protocol::Alphabet` are the only id patterns the docs and the
//! OpenAPI document state, and every entry point enforces them at their boundaries: access tokens,
//! development tokens, control routes, join tickets and the signaling WebSocket.

mod common;

use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use openchat_protocol::Alphabet;
use serde_json::{Value, json};

const ALPHABETS: [Alphabet; 2] = [Alphabet::RESOURCE, Alphabet::PRINCIPAL];

/// Every `[A-Za-z0-9...]{1,N}` pattern written in `text`.
fn id_patterns_in(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("[A-Za-z0-9") {
        let candidate = &rest[start..];
        rest = &candidate[1..];
        let Some(close) = candidate.find(']') else {
            continue;
        };
        let after = &candidate[close + 1..];
        if !after.starts_with("{1,") {
            continue;
        }
        if let Some(end) = after.find('}') {
            found.push(candidate[..close + 1 + end + 1].to_string());
        }
    }
    found
}

fn is_an_alphabet(pattern: &str) -> bool {
    ALPHABETS.iter().any(|a| a.pattern() == pattern)
}

#[test]
fn the_docs_state_only_the_protocol_alphabets() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    let mut seen = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        for pattern in id_patterns_in(&text) {
            seen += 1;
            assert!(
                is_an_alphabet(&pattern),
                "{} states {pattern}, which is neither {} nor {}",
                file.display(),
                Alphabet::RESOURCE.pattern(),
                Alphabet::PRINCIPAL.pattern()
            );
        }
    }
    assert!(seen >= 5, "the docs state the alphabets ({seen} found)");
}

fn patterns_in(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("pattern", Value::String(p)) => out.push(p.clone()),
                    _ => patterns_in(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| patterns_in(v, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_states_only_the_protocol_alphabets() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let (_, body) = server.get("/v1/openapi.json").await;
    server.stop().await;
    let doc: Value = serde_json::from_str(&body).expect("json");
    let mut patterns = Vec::new();
    patterns_in(&doc, &mut patterns);
    let mut ids = 0;
    for pattern in &patterns {
        for id_pattern in id_patterns_in(pattern) {
            ids += 1;
            assert!(
                is_an_alphabet(&id_pattern),
                "the OpenAPI document states {id_pattern} in {pattern}"
            );
        }
        if is_an_alphabet(pattern.trim_start_matches('^').trim_end_matches('$')) {
            assert!(
                pattern.starts_with('^') && pattern.ends_with('$'),
                "{pattern} is anchored"
            );
        }
    }
    assert!(ids >= 10, "id patterns in the document: {ids}");
}

fn signed(key: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )
    .expect("encode")
}

fn access_token(key: &str, sub: &str, did: &str) -> String {
    let now = signaling::auth::unix_now();
    signed(
        key,
        &json!({"sub": sub, "did": did, "iss": "openchat", "aud": "openchat", "exp": now + 600, "iat": now}),
    )
}

fn ticket(key: &str, sub: &str, chn: &str) -> String {
    let now = signaling::auth::unix_now();
    let no_grants = json!({"microphone": false, "camera": false, "screenshare": false, "screenshare_audio": false});
    signed(
        key,
        &json!({
            "sub": sub, "did": "d", "chn": chn, "srv": "srv_harbor", "knd": "voice",
            "grt": no_grants, "node": "local", "jti": uuid::Uuid::new_v4().to_string(),
            "exp": now + 60, "iat": now, "aud": "openchat-rtc",
        }),
    )
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}

/// Ids at the edges of each alphabet: (id, accepted as a principal, accepted as a resource).
fn boundary_ids() -> Vec<(String, bool, bool)> {
    vec![
        ("a".into(), true, true),
        ("A-z_9".into(), true, true),
        ("x".repeat(64), true, true),
        ("x".repeat(65), false, false),
        ("alice.smith".into(), true, false),
        ("a b".into(), false, false),
        ("a/b".into(), false, false),
        ("é".into(), false, false),
        ("a:b".into(), false, false),
    ]
}

async fn entry_points_enforce_the_alphabets(s: &TestServer) {
    let key = std::fs::read_to_string(s.data_path("dev-signing-key")).expect("dev key");
    let key = key.trim();
    let ticket_key = ticket_key(s);
    let owner = s.dev_token("owner").await;
    for (id, principal, resource) in boundary_ids() {
        assert_eq!(Alphabet::PRINCIPAL.accepts(&id), principal, "{id}");
        assert_eq!(Alphabet::RESOURCE.accepts(&id), resource, "{id}");
        // Development tokens: user and device ids are principals.
        let (status, body) = s.post("/v1/dev/token", None, json!({"user_id": id})).await;
        assert_eq!(status == 200, principal, "dev token user {id:?}: {body}");
        if !principal {
            assert_eq!(code(&body), "invalid_request", "{body}");
        }
        let (status, _) = s
            .post(
                "/v1/dev/token",
                None,
                json!({"user_id": "u", "device_id": id}),
            )
            .await;
        assert_eq!(status == 200, principal, "dev token device {id:?}");
        // Access tokens from an identity provider: `sub` and `did` are principals.
        for token in [access_token(key, &id, "d"), access_token(key, "u", &id)] {
            let (status, body) = s
                .call(reqwest::Method::GET, "/v1/servers", Some(&token), None)
                .await;
            if principal {
                assert_eq!(status, 200, "token with {id:?}: {body}");
            } else {
                assert_eq!((status, code(&body)), (401, "invalid_token"), "{id:?}");
            }
        }
        // Control routes: a server id is a resource.
        let (status, body) = s
            .post("/v1/servers", Some(&owner), json!({"name": "S", "id": id}))
            .await;
        assert_eq!(status == 201, resource, "server id {id:?}: {body}");
        if !resource {
            assert_eq!(code(&body), "invalid_request", "{body}");
            let problem = body["error"]["details"]["fields"]["id"].to_string();
            assert!(
                problem.contains(&Alphabet::RESOURCE.pattern()),
                "the refusal states the pattern: {body}"
            );
        }
        // Join tickets: a channel id outside the alphabet names no channel.
        if !resource && !id.contains('/') {
            let (status, body) = s
                .post(
                    &format!("/v1/rtc/channels/{id}/join-ticket"),
                    Some(&owner),
                    json!({}),
                )
                .await;
            assert_eq!((status, code(&body)), (404, "channel_not_found"), "{id:?}");
        }
        // The signaling WebSocket: a ticket whose ids are outside their alphabets is invalid,
        // however well signed.
        if !resource {
            let mut ws = s.ws().await;
            ws.send(json!({"type": "join", "protocol": 1, "ticket": ticket(&ticket_key, "mallory", &id)}))
                .await;
            assert_eq!(ws.error_code().await, "ticket_invalid", "chn {id:?}");
        }
        if !principal {
            let mut ws = s.ws().await;
            ws.send(json!({"type": "join", "protocol": 1, "ticket": ticket(&ticket_key, &id, "vc_general")}))
                .await;
            assert_eq!(ws.error_code().await, "ticket_invalid", "sub {id:?}");
        }
    }
}
on_both_databases!(entry_points, entry_points_enforce_the_alphabets);
