//! The OpenAPI document stays in sync with the routes.
//!
//! 1. Every `.route("path", method(...))` registered in the source (control's `src/http` and
//!    signaling's `src/http/mod.rs`) has an operation in the document, and every operation in
//!    the document is registered (static web assets excepted).
//! 2. Every operation of control's routers answers on the live router (no 405, no fallback 404)
//!    with a status its entry lists, also for a path segment that is not UTF-8 (400).

mod api;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use api::send;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;

/// Routes of the demo web client: static files, not API.
const STATIC_ASSETS: [&str; 3] = ["/", "/app.js", "/style.css"];
const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read source dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `(method, path)` of every `.route(...)` call in `source`.
fn routes_in(source: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let trimmed = rest.trim_start();
        let Some(literal) = trimmed.strip_prefix('"') else {
            continue;
        };
        let Some(end) = literal.find('"') else { break };
        let path = &literal[..end];
        // The call's arguments run until its closing parenthesis.
        let mut depth = 1;
        let mut close = rest.len();
        let mut in_string = false;
        for (i, c) in rest.char_indices() {
            match c {
                '"' => in_string = !in_string,
                '(' if !in_string => depth += 1,
                ')' if !in_string => {
                    depth -= 1;
                    if depth == 0 {
                        close = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let args = &rest[..close];
        for method in METHODS {
            let needle = format!("{method}(");
            let mut search = args;
            while let Some(i) = search.find(&needle) {
                let before = search[..i].chars().last();
                if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    found.push((method.to_owned(), path.to_owned()));
                }
                search = &search[i + needle.len()..];
            }
        }
    }
    found
}

fn registered_routes() -> BTreeSet<(String, String)> {
    let control = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&control.join("src/http"), &mut files);
    files.push(control.join("../signaling/src/http/mod.rs"));
    let mut routes = BTreeSet::new();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("read source");
        routes.extend(routes_in(&source));
    }
    routes.retain(|(_, path)| !STATIC_ASSETS.contains(&path.as_str()));
    routes
}

fn document() -> Value {
    control::http::openapi::document().clone()
}

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

#[test]
fn route_parser_reads_chained_methods() {
    let source = r#"Router::new()
        .route("/a/{id}", post(h::create).get(h::list))
        .route(
            "/b",
            post(h::upload).layer(DefaultBodyLimit::max(limit("x)"))),
        )
        .route("/c", delete(h::forget_get))"#;
    assert_eq!(
        routes_in(source),
        [
            ("get".to_owned(), "/a/{id}".to_owned()),
            ("post".to_owned(), "/a/{id}".to_owned()),
            ("post".to_owned(), "/b".to_owned()),
            ("delete".to_owned(), "/c".to_owned()),
        ]
    );
}

#[test]
fn document_is_openapi_3_1_with_every_route() {
    let doc = document();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let registered = registered_routes();
    assert!(
        registered.len() > 40,
        "the parser found too few routes: {registered:?}"
    );
    let documented = documented_routes(&doc);
    let missing: Vec<_> = registered.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&registered).collect();
    assert!(
        missing.is_empty(),
        "routes without an OpenAPI operation: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "OpenAPI operations without a route: {extra:?}"
    );
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
    assert_eq!(answer.json(), document());

    let doc = document();
    let control_src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut files = Vec::new();
    rust_files(&control_src, &mut files);
    let control_routes: BTreeSet<_> = files
        .iter()
        .flat_map(|f| routes_in(&std::fs::read_to_string(f).expect("read")))
        .collect();
    let public = ["/v1/openapi.json", "/v1/profile/avatar/{asset_id}"];
    for (method, path) in documented_routes(&doc) {
        if !control_routes.contains(&(method.clone(), path.clone())) {
            continue;
        }
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
