//! HTTP helpers for the communities, profiles, devices, keys and OpenAPI tests: requests as a
//! given user and device through `oneshot`.
#![allow(dead_code)]

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use control::{Caller, Control};
use serde_json::Value;
use tower::ServiceExt;

/// Who sends a request: `(user, device)`; `None` sends no caller at all.
pub type As<'a> = Option<(&'a str, &'a str)>;

/// A raw answer.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Bytes,
}

impl Answer {
    /// The body as JSON (`Null` when empty).
    pub fn json(&self) -> Value {
        if self.bytes.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&self.bytes).unwrap_or_else(|e| {
            panic!(
                "non-JSON body ({e}): {}",
                String::from_utf8_lossy(&self.bytes)
            )
        })
    }
}

/// Sends `request` to the authenticated router as `who`, or to the public router when `who`
/// is `None` and `public` is set.
pub async fn send(ctl: &Control, who: As<'_>, public: bool, request: Request<Body>) -> Answer {
    let router = match (who, public) {
        (_, true) => ctl.public_router(),
        (Some((user, device)), false) => ctl.router().layer(Extension(Caller {
            user_id: user.parse().expect("user id"),
            device_id: device.parse().expect("device id"),
        })),
        (None, false) => ctl.router(),
    };
    let response = router.oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .expect("body");
    Answer {
        status,
        headers,
        bytes,
    }
}

/// A JSON request as `(user, device)`; returns status and JSON body.
pub async fn call(
    ctl: &Control,
    who: (&str, &str),
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
    let answer = send(ctl, Some(who), false, request).await;
    (answer.status, answer.json())
}

/// Asserts the shared error shape and returns the code.
pub fn code(body: &Value) -> &str {
    let error = body
        .get("error")
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("not an error body: {body}"));
    assert!(error["details"].is_object(), "{body}");
    assert!(error["message"].is_string(), "{body}");
    error["code"].as_str().expect("code is a string")
}

/// Creates server `id` owned by `owner` (through the API).
pub async fn server(ctl: &Control, owner: &str, id: &str) {
    let (status, body) = call(
        ctl,
        (owner, "d1"),
        Method::POST,
        "/v1/servers",
        Some(serde_json::json!({"name": "Den", "id": id})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Makes `user` a member of `server_id` (added by its owner).
pub async fn join(ctl: &Control, owner: &str, server_id: &str, user: &str) {
    let (status, body) = call(
        ctl,
        (owner, "d1"),
        Method::POST,
        &format!("/v1/servers/{server_id}/members"),
        Some(serde_json::json!({"user_id": user})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Base64 of `len` bytes of `fill`.
pub fn b64(len: usize, fill: u8) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(vec![fill; len])
}
