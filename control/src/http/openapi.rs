//! The OpenAPI 3.1 document of the whole public HTTP API, served at `/v1/openapi.json`.
//!
//! Every handler carries its own `#[utoipa::path]` and is registered with utoipa-axum's
//! `routes!`, so a route and its entry cannot part: the router that serves the routes also
//! collects the entries (control's here, signaling's in its `http` module, with the wire types of
//! [`super::edge`]). [`ApiDocument::new`] completes what the routers collected: the document's
//! info, tags and security; [`answers`] adds what the layers in front of the handlers answer
//! (401, 403 `device_revoked`, 429, 400, 413, 500) and turns each error answer's codes into an
//! enum; [`refine`] states the few rules across fields that derives cannot. Tests check that
//! every entry answers on the router (`control/tests/openapi.rs`, `signaling/tests/http_api.rs`);
//! the schemathesis run in `scripts/test.sh` checks the handlers against the document.

mod answers;
pub mod schemas;

pub use answers::{codes_of, is_code};

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

// The schema of `super::ErrorBody`, for `#[utoipa::path]` answers; the doc comment is the schema's
// description.
/// The error body every route shares: a stable machine-readable `code`, a message, details.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Error)]
pub struct ErrorSchema {
    error: ErrorDetailSchema,
}

/// Inside the error body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ErrorDetail)]
pub struct ErrorDetailSchema {
    /// Stable machine-readable code, e.g. `server_not_found`.
    code: String,
    /// Human-readable explanation (not stable).
    message: String,
    /// Structured extra information (an object, empty when there is none).
    #[schema(value_type = Object)]
    details: serde_json::Value,
}

/// Declares the bearer token scheme every route uses unless it says otherwise.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OpenChat API",
        description = "HTTP API of openchatd: communities, profiles, devices and keys, chat \
            envelopes, realtime, and the RTC join flow. Errors share one shape with a stable \
            `code`. See docs/protocol.md and docs/control-api.md.",
        license(name = "Apache-2.0")
    ),
    security(("bearer" = [])),
    modifiers(&BearerAuth),
    tags(
        (name = "communities", description = "servers, channels, roles, members, invitations"),
        (name = "profiles", description = "profiles and avatars"),
        (name = "devices", description = "devices and device linking"),
        (name = "keys", description = "key envelopes, key packages, key backups"),
        (name = "chat", description = "membership epochs, messages, realtime"),
        (name = "moderation", description = "policy, cases and report bundles, actions, votes, audit log"),
        (name = "rtc", description = "join tickets and the signaling WebSocket"),
        (name = "ops", description = "health, readiness, metrics, capabilities, the API document"),
    ),
    components(schemas(crate::DeviceRef, crate::HistoryDirection)),
)]
struct ApiDoc;

/// The finished OpenAPI document: served by `GET /v1/openapi.json` (which reads it from the
/// request extensions, so the router that collected the entries installs it as a layer).
#[derive(Clone, Debug)]
pub struct ApiDocument {
    json: Arc<Value>,
    bytes: Bytes,
}

impl ApiDocument {
    /// Completes the entries a router collected (`OpenApiRouter::split_for_parts`): info, tags
    /// and security, the answers of the layers in front of the handlers, path parameter formats
    /// and the rules across fields.
    pub fn new(collected: utoipa::openapi::OpenApi) -> ApiDocument {
        let mut doc = ApiDoc::openapi();
        doc.merge(collected);
        let mut json = serde_json::to_value(&doc).unwrap_or_default();
        answers::complete(&mut json);
        refine(&mut json);
        describe_responses(&mut json);
        let bytes = Bytes::from(serde_json::to_vec(&json).unwrap_or_default());
        ApiDocument {
            json: Arc::new(json),
            bytes,
        }
    }

    /// The document as JSON.
    pub fn json(&self) -> &Value {
        &self.json
    }
}

/// Path parameters by name: every id of one kind has one format, which the handlers check (a
/// malformed one is answered like an unknown one, or with 400).
const PATH_PATTERNS: [(&str, &str); 6] = [
    ("channel_id", schemas::ID),
    ("server_id", schemas::ID),
    ("user_id", schemas::PRINCIPAL),
    ("device_id", schemas::PRINCIPAL),
    // `communities::invitations::new_token`.
    ("token", "^[A-Za-z0-9]{24}$"),
    // `profiles::avatar::is_asset_id`: a SHA-256 in lowercase hex.
    ("asset_id", "^[0-9a-f]{64}$"),
];

/// What the derives cannot state, added to the derived document: path parameter formats,
/// rules across fields of a request body.
fn refine(doc: &mut Value) {
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for operation in item.values_mut() {
                let Some(params) = operation
                    .get_mut("parameters")
                    .and_then(Value::as_array_mut)
                else {
                    continue;
                };
                for param in params.iter_mut().filter(|p| p["in"] == "path") {
                    let name = param["name"].as_str().unwrap_or("");
                    if let Some((_, pattern)) = PATH_PATTERNS.iter().find(|(n, _)| *n == name) {
                        param["schema"] = json!({ "type": "string", "pattern": pattern });
                    }
                }
            }
        }
    }
    let schemas = &mut doc["components"]["schemas"];
    // `NewMessage`: `content_type` decides `refers_to` and whether the ciphertext may be empty
    // (`messages::send::validate`).
    schemas["NewMessage"]["oneOf"] = json!([
        {
            "description": "a message: no refers_to, a ciphertext",
            "properties": {
                "content_type": { "enum": ["message"] },
                "refers_to": { "type": "null" },
                "ciphertext": { "minLength": 1 }
            }
        },
        {
            "description": "an edit or a reaction: refers_to and a ciphertext",
            "required": ["content_type", "refers_to"],
            "properties": {
                "content_type": { "enum": ["edit", "reaction"] },
                "refers_to": { "type": "string" },
                "ciphertext": { "minLength": 1 }
            }
        },
        {
            "description": "a delete: refers_to; the ciphertext may be empty",
            "required": ["content_type", "refers_to"],
            "properties": {
                "content_type": { "enum": ["delete"] },
                "refers_to": { "type": "string" }
            }
        }
    ]);
    // `UploadPackagesBody`: at least one package or a last-resort one
    // (`Control::upload_key_packages`).
    schemas["UploadPackagesBody"]["anyOf"] = json!([
        { "required": ["packages"], "properties": { "packages": { "minItems": 1 } } },
        { "required": ["last_resort"], "properties": { "last_resort": { "type": "string" } } }
    ]);
}

/// OpenAPI requires a description on every response: fill the ones left empty with the
/// status's reason phrase.
fn describe_responses(doc: &mut serde_json::Value) {
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for operation in item.values_mut() {
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(|r| r.as_object_mut())
            else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                let Some(response) = response.as_object_mut() else {
                    continue;
                };
                if response
                    .get("description")
                    .and_then(|d| d.as_str())
                    .is_none_or(str::is_empty)
                {
                    let reason = status
                        .parse::<u16>()
                        .ok()
                        .and_then(|code| axum::http::StatusCode::from_u16(code).ok())
                        .and_then(|code| code.canonical_reason())
                        .unwrap_or("response");
                    response.insert("description".into(), reason.into());
                }
            }
        }
    }
}

/// The top of an OpenAPI document (the schema of this route's answer).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OpenApiDocument {
    /// `3.1.x`.
    #[schema(pattern = "^3\\.1\\.")]
    openapi: String,
    /// Title, version, license.
    #[schema(value_type = Object)]
    info: Value,
    /// The operations, by path.
    #[schema(value_type = Object)]
    paths: Value,
}

/// This document (OpenAPI 3.1, JSON).
#[utoipa::path(get, path = "/v1/openapi.json", tag = "ops", security(()),
    responses((status = 200, description = "the OpenAPI 3.1 document", body = OpenApiDocument)))]
pub(crate) async fn serve(Extension(document): Extension<ApiDocument>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        document.bytes,
    )
}
