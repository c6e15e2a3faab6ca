//! The OpenAPI document of control's routes, as the routers collect it.
//!
//! Routes are registered with their entries (utoipa-axum's `routes!`), so they cannot part; these
//! tests check what that does not: the document is OpenAPI 3.1 with a response and a tag on every
//! operation, it is what `/v1/openapi.json` serves, and every operation answers on the live
//! router (no 405, no fallback 404) with a status its entry lists, also for a path segment that
//! is not UTF-8 (400). `signaling/tests/http_api.rs` checks the whole application's document.

mod api;

use std::collections::BTreeSet;

use api::send;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                routes.insert((method.to_owned(), path.clone()));
            }
        }
    }
    routes
}

#[tokio::test]
async fn document_is_openapi_3_1_with_every_route() {
    let (ctl, _guard) = control::testing::sqlite_temp().await;
    let doc = ctl.openapi_document().json().clone();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let documented = documented_routes(&doc);
    assert!(
        documented.len() > 40,
        "control's routers collected too few entries: {documented:?}"
    );
    // Two handlers on one path, registered apart (post by `servers`, get by `communities`).
    for method in ["get", "post"] {
        assert!(
            documented.contains(&(
                method.to_owned(),
                "/v1/servers/{server_id}/members".to_owned()
            )),
            "{method} /v1/servers/{{server_id}}/members"
        );
    }
    // Every operation has at least one response and a tag.
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path}"
            );
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path}"
            );
        }
    }
}

#[tokio::test]
async fn served_document_matches_and_every_control_operation_answers() {
    let (ctl, _guard) = control::testing::sqlite_temp().await;
    let request = Request::builder()
        .uri("/v1/openapi.json")
        .body(Body::empty())
        .expect("request");
    let answer = send(&ctl, None, true, request).await;
    assert_eq!(answer.status, StatusCode::OK);
    let doc = ctl.openapi_document().json().clone();
    assert_eq!(answer.json(), doc);
    assert_eq!(answer.headers["content-type"], "application/json");

    let public = ["/v1/openapi.json", "/v1/profile/avatar/{asset_id}"];
    for (method, path) in documented_routes(&doc) {
        let documented = &doc["paths"][&path][&method]["responses"];
        let is_public = public.contains(&path.as_str());
        for segment in ["x", "%FF"] {
            let uri = path
                .split('/')
                .map(|seg| if seg.starts_with('{') { segment } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            let request = Request::builder()
                .method(Method::from_bytes(method.to_uppercase().as_bytes()).expect("method"))
                .uri(&uri)
                .body(Body::empty())
                .expect("request");
            let who = (!is_public).then_some(("alice", "laptop"));
            let answer = send(&ctl, who, is_public, request).await;
            assert_ne!(
                answer.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            // The router's fallback 404 has no body; handlers' 404s carry the error shape.
            assert!(
                answer.status != StatusCode::NOT_FOUND || !answer.bytes.is_empty(),
                "{method} {path}: no such route"
            );
            assert!(
                documented.get(answer.status.as_str()).is_some(),
                "{method} {uri}: {} is not documented",
                answer.status
            );
            if segment == "%FF" && path.contains('{') {
                assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{method} {uri}");
                assert_eq!(answer.json()["error"]["code"], "invalid_request");
            }
        }
    }
}
