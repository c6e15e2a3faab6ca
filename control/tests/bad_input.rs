//! Bad input never makes a 500: every JSON route of servers, communities, profiles, devices and
//! keys gets strings with NUL bytes, very long strings, wrong types and malformed JSON, and the
//! path routes get hostile segments, on both databases.

mod api;
mod common;

use api::{call, join, server};
use axum::body::Body;
use axum::http::{Method, Request, header};
use control::Control;
use serde_json::{Value, json};

on_both_databases! {
    hostile_bodies_are_4xx => prod,
    hostile_paths_are_4xx => prod,
}

/// `(method, uri, a well-formed body)` of every JSON route of these areas.
fn json_routes() -> Vec<(Method, &'static str, Value)> {
    vec![
        (
            Method::POST,
            "/v1/servers",
            json!({"name": "Den", "id": "srv_new"}),
        ),
        (
            Method::POST,
            "/v1/servers/srv_a/channels",
            json!({"name": "general", "kind": "text", "id": "ch_new"}),
        ),
        (
            Method::POST,
            "/v1/servers/srv_a/members",
            json!({"user_id": "carol", "role": "member"}),
        ),
        (
            Method::POST,
            "/v1/servers/srv_a/invitations",
            json!({"expires_in_secs": 3600, "max_uses": 2}),
        ),
        (
            Method::PUT,
            "/v1/servers/srv_a/members/bob/role",
            json!({"role": "moderator"}),
        ),
        (
            Method::PUT,
            "/v1/profile/me",
            json!({"display_name": "A", "status": "s"}),
        ),
        (
            Method::POST,
            "/v1/devices/link/confirm",
            json!({"code": "ABCD-EFGH-JKMN", "name": "n"}),
        ),
        (
            Method::POST,
            "/v1/keys/envelopes/publish",
            json!({"envelopes": [{"user_id": "bob", "device_id": "phone", "payload": "AQ=="}]}),
        ),
        (
            Method::POST,
            "/v1/keys/envelopes/ack",
            json!({"up_to": 1, "device_id": "laptop"}),
        ),
        (
            Method::POST,
            "/v1/keys/packages",
            json!({"packages": ["AQ=="], "last_resort": "Ag=="}),
        ),
        (
            Method::POST,
            "/v1/keys/packages/claim",
            json!({"user_id": "bob", "device_id": "phone"}),
        ),
        (
            Method::POST,
            "/v1/keys/backups",
            json!({"expected_version": 0, "payload": "AQ=="}),
        ),
    ]
}

/// Variants of `value` with each string (and each number) replaced by something hostile.
fn hostile_variants(value: &Value) -> Vec<Value> {
    let replacements = [
        json!("nul\u{0000}byte"),
        json!("x".repeat(10_000)),
        json!("é🦀\u{202e}"),
        json!(-1),
        json!(i64::MAX),
        json!(null),
        json!([]),
        json!({}),
    ];
    let mut out = Vec::new();
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                for variant in hostile_variants(inner)
                    .into_iter()
                    .chain(replacements.iter().cloned())
                {
                    let mut copy = map.clone();
                    copy.insert(key.clone(), variant);
                    out.push(Value::Object(copy));
                }
            }
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                for variant in hostile_variants(inner) {
                    let mut copy = items.clone();
                    copy[i] = variant;
                    out.push(Value::Array(copy));
                }
            }
        }
        _ => {}
    }
    out
}

async fn setup(ctl: &Control) {
    server(ctl, "alice", "srv_a").await;
    join(ctl, "alice", "srv_a", "bob").await;
    ctl.ensure_device("alice", "laptop").await.expect("alice");
    ctl.ensure_device("bob", "phone").await.expect("bob");
}

async fn hostile_bodies_are_4xx(ctl: Control) {
    setup(&ctl).await;
    for (method, uri, good) in json_routes() {
        let mut bodies = hostile_variants(&good);
        bodies.extend([json!(null), json!([]), json!("x"), json!(1)]);
        for body in bodies {
            let (status, answer) = call(
                &ctl,
                ("alice", "laptop"),
                method.clone(),
                uri,
                Some(body.clone()),
            )
            .await;
            assert!(
                !status.is_server_error(),
                "{method} {uri} {body}: {status} {answer}"
            );
        }
        // Malformed JSON, and a JSON route without a content type.
        for (content_type, raw) in [("application/json", "{\"a\":"), ("text/plain", "{}")] {
            let request = Request::builder()
                .method(method.clone())
                .uri(uri)
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(raw))
                .expect("request");
            let answer = api::send(&ctl, Some(("alice", "laptop")), false, request).await;
            assert!(
                answer.status.is_client_error(),
                "{method} {uri} {raw}: {}",
                answer.status
            );
        }
    }
}

async fn hostile_paths_are_4xx(ctl: Control) {
    setup(&ctl).await;
    let long = "y".repeat(5_000);
    for segment in [
        "%00",
        "%FF",
        "..",
        "%2F",
        long.as_str(),
        "a%20b",
        "%E2%80%AE",
    ] {
        for (method, uri) in [
            (Method::GET, format!("/v1/servers/{segment}/roles")),
            (Method::GET, format!("/v1/servers/{segment}/members")),
            (Method::POST, format!("/v1/servers/{segment}/leave")),
            (
                Method::DELETE,
                format!("/v1/servers/srv_a/members/{segment}"),
            ),
            (
                Method::DELETE,
                format!("/v1/servers/srv_a/invitations/{segment}"),
            ),
            (Method::POST, format!("/v1/invitations/{segment}/accept")),
            (Method::DELETE, format!("/v1/devices/{segment}")),
            (Method::GET, format!("/v1/profiles:batch?ids={segment}")),
            (
                Method::GET,
                format!("/v1/keys/envelopes?device_id={segment}"),
            ),
        ] {
            let (status, answer) =
                call(&ctl, ("alice", "laptop"), method.clone(), &uri, None).await;
            // `..` is a well-formed user id: the batch may answer 200 (empty).
            assert!(
                status.is_client_error() || (status.is_success() && segment == ".."),
                "{method} {uri}: {status} {answer}"
            );
        }
        let request = Request::builder()
            .uri(format!("/v1/profile/avatar/{segment}"))
            .body(Body::empty())
            .expect("request");
        let answer = api::send(&ctl, None, true, request).await;
        assert!(
            answer.status.is_client_error(),
            "avatar {segment}: {}",
            answer.status
        );
    }
    // A hostile caller identity cannot reach control: a `Caller` holds typed ids, which refuse
    // it (signaling answers 401 `invalid_token`, see signaling/tests/id_alphabets.rs).
    for device in ["nul\u{0000}", "", "z".repeat(100).as_str()] {
        assert!(
            device.parse::<openchat_protocol::DeviceId>().is_err(),
            "device {device:?}"
        );
    }
}
