//! Profiles, avatars (sniffing, size cap, caching headers) and the batch lookup.

mod api;
mod common;

use api::{Answer, call, code, join, send, server};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use control::Control;
use serde_json::{Value, json};

on_both_databases! {
    profile_me_roundtrip_and_validation => prod,
    avatar_types_are_sniffed => prod,
    avatar_size_cap_is_413 => prod,
    avatar_is_served_with_caching_headers => prod,
    batch_is_bounded_and_visibility_checked => prod,
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake png body";
const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF fake jpeg";
const GIF: &[u8] = b"GIF89a fake gif";
const WEBP: &[u8] = b"RIFF\x10\0\0\0WEBPVP8 fake webp";

async fn upload(ctl: &Control, user: &str, bytes: Vec<u8>, content_type: &str) -> Answer {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/profile/avatar")
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(bytes))
        .expect("request");
    send(ctl, Some((user, "d1")), false, request).await
}

async fn fetch(ctl: &Control, asset: &str, if_none_match: Option<&str>) -> Answer {
    let mut request = Request::builder().uri(format!("/v1/profile/avatar/{asset}"));
    if let Some(etag) = if_none_match {
        request = request.header(header::IF_NONE_MATCH, etag);
    }
    send(
        ctl,
        None,
        true,
        request.body(Body::empty()).expect("request"),
    )
    .await
}

async fn profile_me_roundtrip_and_validation(ctl: Control) {
    let (status, me) = call(&ctl, ("alice", "d1"), Method::GET, "/v1/profile/me", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        me,
        json!({"user_id": "alice", "display_name": null, "status": null, "avatar_asset_id": null, "updated_at": null})
    );
    let (status, me) = call(
        &ctl,
        ("alice", "d1"),
        Method::PUT,
        "/v1/profile/me",
        Some(json!({"display_name": "  Alice  ", "status": "on a boat"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["display_name"], "Alice");
    assert_eq!(me["status"], "on a boat");
    assert!(me["updated_at"].is_i64());
    let (_, again) = call(&ctl, ("alice", "d1"), Method::GET, "/v1/profile/me", None).await;
    assert_eq!(again, me);
    // Clearing the status keeps the name only if it is sent again (PUT replaces).
    let (_, me) = call(
        &ctl,
        ("alice", "d1"),
        Method::PUT,
        "/v1/profile/me",
        Some(json!({"display_name": "Alice"})),
    )
    .await;
    assert_eq!(me["status"], Value::Null);

    for (bad, field) in [
        (json!({"display_name": "x".repeat(65)}), "display_name"),
        (json!({"status": "y".repeat(141)}), "status"),
        (json!({"display_name": "a\u{0007}b"}), "display_name"),
    ] {
        let (status, body) = call(
            &ctl,
            ("alice", "d1"),
            Method::PUT,
            "/v1/profile/me",
            Some(bad),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_request")
        );
        assert!(
            body["error"]["details"]["fields"][field].is_string(),
            "{body}"
        );
    }
    let (status, body) = call(
        &ctl,
        ("alice", "d1"),
        Method::PUT,
        "/v1/profile/me",
        Some(json!({"nick": "x"})),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    // Limits are in characters, not bytes.
    let (status, _) = call(
        &ctl,
        ("alice", "d1"),
        Method::PUT,
        "/v1/profile/me",
        Some(json!({"display_name": "é".repeat(64)})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

async fn avatar_types_are_sniffed(ctl: Control) {
    for (bytes, expected) in [
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (GIF, "image/gif"),
        (WEBP, "image/webp"),
    ] {
        // The declared type is ignored: the bytes decide.
        let answer = upload(&ctl, "alice", bytes.to_vec(), "text/plain").await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.json());
        let asset = answer.json();
        assert_eq!(asset["content_type"], expected);
        assert_eq!(asset["size_bytes"], bytes.len());
        let id = asset["asset_id"].as_str().expect("asset_id");
        assert_eq!(id.len(), 64);
        assert_eq!(asset["url"], format!("/v1/profile/avatar/{id}"));
        let (_, me) = call(&ctl, ("alice", "d1"), Method::GET, "/v1/profile/me", None).await;
        assert_eq!(me["avatar_asset_id"], id);
    }
    for bytes in [
        b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
        b"RIFF\0\0\0\0WAVEfmt ".to_vec(),
        Vec::new(),
    ] {
        let answer = upload(&ctl, "alice", bytes, "image/png").await;
        assert_eq!(
            (answer.status, code(&answer.json())),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
        );
    }
}

async fn avatar_size_cap_is_413(ctl: Control) {
    let max = ctl.options().avatar_max_bytes;
    assert_eq!(max, 2 * 1024 * 1024);
    let mut at_cap = PNG.to_vec();
    at_cap.resize(max, 0);
    let answer = upload(&ctl, "alice", at_cap.clone(), "image/png").await;
    assert_eq!(answer.status, StatusCode::CREATED);
    at_cap.push(0);
    let answer = upload(&ctl, "alice", at_cap, "image/png").await;
    let body = answer.json();
    assert_eq!(
        (answer.status, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    assert_eq!(body["error"]["details"]["max_bytes"], max);
}

async fn avatar_is_served_with_caching_headers(ctl: Control) {
    let asset = upload(&ctl, "alice", PNG.to_vec(), "image/png")
        .await
        .json();
    let id = asset["asset_id"].as_str().expect("asset_id").to_owned();
    let answer = fetch(&ctl, &id, None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(&answer.bytes[..], PNG);
    assert_eq!(answer.headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(
        answer.headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(answer.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let etag = answer.headers[header::ETAG]
        .to_str()
        .expect("etag")
        .to_owned();
    assert_eq!(etag, format!("\"{id}\""));
    let answer = fetch(&ctl, &id, Some(&etag)).await;
    assert_eq!(answer.status, StatusCode::NOT_MODIFIED);
    assert!(answer.bytes.is_empty());
    assert_eq!(answer.headers[header::ETAG], etag.as_str());
    let answer = fetch(&ctl, &id, Some("\"other\"")).await;
    assert_eq!(answer.status, StatusCode::OK);
    // Unknown or malformed ids: 404 with the error shape.
    for bad in [
        "0".repeat(64),
        "..%2F..%2Fetc%2Fpasswd".to_owned(),
        id.to_uppercase(),
    ] {
        let answer = fetch(&ctl, &bad, None).await;
        assert_eq!(
            (answer.status, code(&answer.json())),
            (StatusCode::NOT_FOUND, "avatar_not_found"),
            "{bad}"
        );
    }
}

async fn batch_is_bounded_and_visibility_checked(ctl: Control) {
    server(&ctl, "alice", "srv_a").await;
    join(&ctl, "alice", "srv_a", "bob").await;
    for (user, name) in [("alice", "Alice"), ("bob", "Bob"), ("eve", "Eve")] {
        let (status, _) = call(
            &ctl,
            (user, "d1"),
            Method::PUT,
            "/v1/profile/me",
            Some(json!({"display_name": name})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    // Eve shares no server with Alice: left out, like an unknown id. Duplicates collapse.
    let (status, body) = call(
        &ctl,
        ("alice", "d1"),
        Method::GET,
        "/v1/profiles:batch?ids=bob,eve,alice,bob,nobody",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let names: Vec<&str> = body["profiles"]
        .as_array()
        .expect("profiles")
        .iter()
        .filter_map(|p| p["display_name"].as_str())
        .collect();
    assert_eq!(names, ["Bob", "Alice"]);
    let (_, body) = call(
        &ctl,
        ("eve", "d1"),
        Method::GET,
        "/v1/profiles:batch?ids=alice,bob",
        None,
    )
    .await;
    assert_eq!(body, json!({"profiles": []}));

    let hundred: Vec<String> = (0..100).map(|i| format!("u{i}")).collect();
    let (status, _) = call(
        &ctl,
        ("alice", "d1"),
        Method::GET,
        &format!("/v1/profiles:batch?ids={}", hundred.join(",")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let too_many: Vec<String> = (0..101).map(|i| format!("u{i}")).collect();
    for uri in [
        format!("/v1/profiles:batch?ids={}", too_many.join(",")),
        "/v1/profiles:batch?ids=".to_owned(),
        "/v1/profiles:batch".to_owned(),
        "/v1/profiles:batch?ids=a%20b".to_owned(),
    ] {
        let (status, body) = call(&ctl, ("alice", "d1"), Method::GET, &uri, None).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{uri}"
        );
    }
}
