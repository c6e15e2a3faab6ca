//! Control's HTTP routes, driven with `oneshot` on SQLite and PostgreSQL.

mod common;

use axum::Extension;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use control::{Caller, Control};
use serde_json::{Value, json};
use tower::ServiceExt;

on_both_databases! {
    create_and_list_servers => prod,
    supplied_server_id_conflicts => prod,
    channels_need_membership_and_role => prod,
    members_rules => prod,
    validation_errors_are_400_with_fields => prod,
    malformed_json_is_400_invalid_request => prod,
    missing_caller_is_401 => prod,
    storage_failure_is_an_opaque_500 => prod,
}

/// Sends one request as `user` (no `Caller` at all when `None`); returns status and JSON body.
async fn call(
    ctl: &Control,
    user: Option<&str>,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let request = Request::builder().method(method).uri(uri);
    let request = match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .expect("request");
    send(ctl, user, request).await
}

async fn send(ctl: &Control, user: Option<&str>, request: Request<Body>) -> (StatusCode, Value) {
    let router = match user {
        Some(user) => ctl.router().layer(Extension(Caller {
            user_id: user.parse().expect("user id"),
            device_id: format!("{user}-laptop").parse().expect("device id"),
        })),
        None => ctl.router(),
    };
    let response = router.oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("non-JSON body ({e}): {}", String::from_utf8_lossy(&bytes)))
    };
    (status, json)
}

/// Asserts the error body shape exactly and returns its code.
fn error_code(body: &Value) -> &str {
    let error = body
        .get("error")
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("not an error body: {body}"));
    let mut keys: Vec<_> = error.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "details", "message"], "{body}");
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body}");
    assert!(error["details"].is_object(), "{body}");
    assert!(error["message"].is_string(), "{body}");
    error["code"].as_str().expect("code is a string")
}

async fn create_server(ctl: &Control, owner: &str, id: &str) {
    let (status, body) = call(
        ctl,
        Some(owner),
        Method::POST,
        "/v1/servers",
        Some(json!({"name": "Den", "id": id})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn create_and_list_servers(ctl: Control) {
    let (status, server) = call(
        &ctl,
        Some("alice"),
        Method::POST,
        "/v1/servers",
        Some(json!({"name": "  Den  "})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{server}");
    let id = server["id"].as_str().expect("id");
    assert!(id.starts_with("srv_"), "{server}");
    assert_eq!(server["name"], "Den");
    assert_eq!(server["owner_user_id"], "alice");
    assert!(server["created_at"].as_i64().is_some_and(|t| t > 0));

    let (status, list) = call(&ctl, Some("alice"), Method::GET, "/v1/servers", None).await;
    assert_eq!(status, StatusCode::OK);
    let servers = list["servers"].as_array().expect("servers");
    assert_eq!(servers.len(), 1, "{list}");
    assert_eq!(servers[0]["id"], id);
    assert_eq!(servers[0]["role"], "owner");

    let (status, list) = call(&ctl, Some("bob"), Method::GET, "/v1/servers", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list, json!({"servers": []}));
}

async fn supplied_server_id_conflicts(ctl: Control) {
    create_server(&ctl, "alice", "srv_x").await;
    let (status, body) = call(
        &ctl,
        Some("bob"),
        Method::POST,
        "/v1/servers",
        Some(json!({"name": "Mine", "id": "srv_x"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_code(&body), "id_taken");
}

async fn channels_need_membership_and_role(ctl: Control) {
    create_server(&ctl, "alice", "srv_den").await;
    let uri = "/v1/servers/srv_den/channels";
    let voice = json!({"name": "Voice", "kind": "voice", "id": "vc_den"});

    let (status, channel) = call(&ctl, Some("alice"), Method::POST, uri, Some(voice)).await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    assert_eq!(
        channel,
        json!({"id": "vc_den", "server_id": "srv_den", "name": "Voice", "kind": "voice",
               "created_at": channel["created_at"]})
    );
    let (status, generated) = call(
        &ctl,
        Some("alice"),
        Method::POST,
        uri,
        Some(json!({"name": "Chat", "kind": "text"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{generated}");
    assert!(
        generated["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("ch_"))
    );

    // Same channel id again: conflict.
    let (status, body) = call(
        &ctl,
        Some("alice"),
        Method::POST,
        uri,
        Some(json!({"name": "Again", "kind": "video", "id": "vc_den"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_code(&body), "id_taken");

    // A non-member cannot see the server: 404, never 403.
    for (method, body) in [
        (Method::GET, None),
        (Method::POST, Some(json!({"name": "X", "kind": "voice"}))),
    ] {
        let (status, body) = call(&ctl, Some("mallory"), method, uri, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(error_code(&body), "server_not_found");
    }
    // Nor can anyone see a server that does not exist.
    let (status, body) = call(
        &ctl,
        Some("alice"),
        Method::GET,
        "/v1/servers/srv_missing/channels",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "server_not_found");

    // A plain member sees channels but may not create them.
    let (status, _) = call(
        &ctl,
        Some("alice"),
        Method::POST,
        "/v1/servers/srv_den/members",
        Some(json!({"user_id": "bob"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, list) = call(&ctl, Some("bob"), Method::GET, uri, None).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<_> = list["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids.len(), 2, "{list}");
    assert!(ids.contains(&"vc_den"));
    let (status, body) = call(
        &ctl,
        Some("bob"),
        Method::POST,
        uri,
        Some(json!({"name": "Mine", "kind": "voice"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(error_code(&body), "forbidden");

    // A moderator may.
    let (status, _) = call(
        &ctl,
        Some("alice"),
        Method::POST,
        "/v1/servers/srv_den/members",
        Some(json!({"user_id": "mod", "role": "moderator"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = call(
        &ctl,
        Some("mod"),
        Method::POST,
        uri,
        Some(json!({"name": "Stage", "kind": "video"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["kind"], "video");
}

async fn members_rules(ctl: Control) {
    create_server(&ctl, "alice", "srv_den").await;
    let uri = "/v1/servers/srv_den/members";
    let add = |actor: &'static str, body: Value| {
        let ctl = ctl.clone();
        async move { call(&ctl, Some(actor), Method::POST, uri, Some(body)).await }
    };

    let (status, member) = add("alice", json!({"user_id": "bob"})).await;
    assert_eq!(status, StatusCode::CREATED, "{member}");
    assert_eq!(member["server_id"], "srv_den");
    assert_eq!(member["user_id"], "bob");
    assert_eq!(member["role"], "member");

    let (status, body) = add("alice", json!({"user_id": "bob"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_code(&body), "already_a_member");
    let (status, body) = add("alice", json!({"user_id": "alice"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_code(&body), "already_a_member");

    // Non-members: 404. Plain members: 403.
    let (status, body) = add("mallory", json!({"user_id": "mallory2"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "server_not_found");
    let (status, body) = add("bob", json!({"user_id": "carol"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error_code(&body), "forbidden");

    // Moderators add members, but only the owner adds moderators; nobody grants owner.
    let (status, _) = add("alice", json!({"user_id": "mod", "role": "moderator"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = add("mod", json!({"user_id": "carol"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = add("mod", json!({"user_id": "dave", "role": "moderator"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error_code(&body), "forbidden");
    let (status, body) = add("alice", json!({"user_id": "dave", "role": "owner"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "invalid_request");
    assert!(
        body["error"]["details"]["fields"]["role"].is_string(),
        "{body}"
    );

    let (status, list) = call(&ctl, Some("carol"), Method::GET, "/v1/servers", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["servers"][0]["id"], "srv_den");
    assert_eq!(list["servers"][0]["role"], "member");
}

async fn validation_errors_are_400_with_fields(ctl: Control) {
    create_server(&ctl, "alice", "srv_den").await;
    let cases = [
        ("/v1/servers", json!({"name": ""}), Some("name")),
        ("/v1/servers", json!({"name": "   "}), Some("name")),
        (
            "/v1/servers",
            json!({"name": "x".repeat(101)}),
            Some("name"),
        ),
        (
            "/v1/servers",
            json!({"name": "ok", "id": "bad id!"}),
            Some("id"),
        ),
        (
            "/v1/servers",
            json!({"name": "ok", "id": "x".repeat(65)}),
            Some("id"),
        ),
        (
            "/v1/servers/srv_den/channels",
            json!({"name": "", "kind": "voice"}),
            Some("name"),
        ),
        (
            "/v1/servers/srv_den/channels",
            json!({"name": "ok", "kind": "voice", "id": "a/b"}),
            Some("id"),
        ),
        (
            "/v1/servers/srv_den/members",
            json!({"user_id": "not valid"}),
            Some("user_id"),
        ),
        // Shape errors (wrong enum value, missing field, unknown field) come from decoding.
        (
            "/v1/servers/srv_den/channels",
            json!({"name": "ok", "kind": "chat"}),
            None,
        ),
        ("/v1/servers/srv_den/channels", json!({"name": "ok"}), None),
        ("/v1/servers", json!({"name": "ok", "owner": "me"}), None),
        ("/v1/servers", json!({"name": 5}), None),
        (
            "/v1/servers/srv_den/members",
            json!({"user_id": "bob", "role": "admin"}),
            None,
        ),
    ];
    for (uri, body, field) in cases {
        let (status, answer) =
            call(&ctl, Some("alice"), Method::POST, uri, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri} {body}: {answer}");
        assert_eq!(error_code(&answer), "invalid_request");
        let details = &answer["error"]["details"];
        match field {
            Some(field) => assert!(
                details["fields"][field].is_string(),
                "{uri} {body}: {answer}"
            ),
            None => assert!(details["reason"].is_string(), "{uri} {body}: {answer}"),
        }
    }
    // Nothing was created by the refused requests.
    let (_, list) = call(&ctl, Some("alice"), Method::GET, "/v1/servers", None).await;
    assert_eq!(list["servers"].as_array().map(Vec::len), Some(1), "{list}");

    // A malformed server id in the path cannot name a server: 404.
    let (status, body) = call(
        &ctl,
        Some("alice"),
        Method::GET,
        "/v1/servers/bad%20id/channels",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "server_not_found");
}

async fn malformed_json_is_400_invalid_request(ctl: Control) {
    create_server(&ctl, "alice", "srv_den").await;
    for uri in [
        "/v1/servers",
        "/v1/servers/srv_den/channels",
        "/v1/servers/srv_den/members",
    ] {
        for (content_type, body) in [
            (Some("application/json"), "{not json"),
            (Some("application/json"), ""),
            (Some("text/plain"), "{\"name\":\"x\"}"),
            (None, "{\"name\":\"x\"}"),
        ] {
            let mut request = Request::builder().method(Method::POST).uri(uri);
            if let Some(content_type) = content_type {
                request = request.header(header::CONTENT_TYPE, content_type);
            }
            let request = request.body(Body::from(body)).expect("request");
            let (status, answer) = send(&ctl, Some("alice"), request).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri} {body:?}: {answer}");
            assert_eq!(error_code(&answer), "invalid_request");
            assert!(answer["error"]["details"]["reason"].is_string(), "{answer}");
        }
    }
}

async fn missing_caller_is_401(ctl: Control) {
    create_server(&ctl, "alice", "srv_den").await;
    for (method, uri, body) in [
        (Method::GET, "/v1/servers", None),
        (Method::POST, "/v1/servers", Some(json!({"name": "x"}))),
        (Method::GET, "/v1/servers/srv_den/channels", None),
        (
            Method::POST,
            "/v1/servers/srv_den/channels",
            Some(json!({"name": "x", "kind": "voice"})),
        ),
        (
            Method::POST,
            "/v1/servers/srv_den/members",
            Some(json!({"user_id": "bob"})),
        ),
        // Even a malformed body is refused for the missing caller first.
        (Method::POST, "/v1/servers", Some(json!("not an object"))),
    ] {
        let (status, body) = call(&ctl, None, method, uri, body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}: {body}");
        assert_eq!(error_code(&body), "missing_token");
    }
}

async fn storage_failure_is_an_opaque_500(ctl: Control) {
    create_server(&ctl, "alice", "srv_den").await;
    ctl.close().await;
    let (status, body) = call(&ctl, Some("alice"), Method::GET, "/v1/servers", None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(error_code(&body), "internal");
    assert_eq!(body["error"]["message"], "internal error");
    assert_eq!(body["error"]["details"], json!({}));
    assert!(ctl.ping().await.is_err());
}
