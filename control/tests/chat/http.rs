//! Minimal HTTP driving for the chat tests (oneshot, caller injected).
use axum::Extension;
use axum::body::Body;
use axum::http::{Method, Request, header};
use control::{Caller, Control, DeviceRef};
use serde_json::Value;
use tower::ServiceExt;

async fn call(ctl: &Control, as_: &DeviceRef, req: Request<Body>) -> (u16, Value) {
    let router = ctl.router().layer(Extension(Caller {
        user_id: as_.user_id.parse().expect("user id"),
        device_id: as_.device_id.parse().expect("device id"),
    }));
    let response = router.oneshot(req).await.expect("infallible");
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .expect("body");
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value)
}

pub async fn get(ctl: &Control, as_: &DeviceRef, uri: &str) -> (u16, Value) {
    let req = Request::builder()
        .method(Method::GET)
        .uri(uri)
        .body(Body::empty())
        .expect("request");
    call(ctl, as_, req).await
}

pub async fn post(ctl: &Control, as_: &DeviceRef, uri: &str, body: Value) -> (u16, Value) {
    post_raw(ctl, as_, uri, &body.to_string()).await
}

pub async fn post_raw(ctl: &Control, as_: &DeviceRef, uri: &str, body: &str) -> (u16, Value) {
    let req = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request");
    call(ctl, as_, req).await
}
