//! The OpenAPI 3.1 document of the whole public HTTP API, served at `/v1/openapi.json`.
//!
//! Control's handlers carry their own `#[utoipa::path]` annotations; signaling's routes are
//! described by placeholder functions in the private module `external`, with the wire types of
//! [`super::edge`]. [`answers`] adds what the layers in front of the handlers answer (401, 403
//! `device_revoked`, 429, 400, 413, 500) and turns each error answer's codes into an enum;
//! [`refine`] states the few rules across fields that derives cannot. A test
//! (`control/tests/openapi.rs`) checks that every route registered in the source has an entry
//! here and that every entry answers on the router; the schemathesis run in `scripts/test.sh`
//! checks the handlers against the document.

mod answers;
mod external;
pub mod schemas;

pub use answers::{codes_of, is_code};

use std::sync::OnceLock;

use axum::Json;
use axum::http::header;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{channels, communities, devices, keys, profiles, realtime, servers};

/// The error body every route shares (see [`super::ErrorBody`]).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Error)]
pub(crate) struct ErrorSchema {
    error: ErrorDetailSchema,
}

/// Inside the error body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ErrorDetail)]
pub(crate) struct ErrorDetailSchema {
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
        (name = "rtc", description = "join tickets and the signaling WebSocket"),
        (name = "ops", description = "health, readiness, metrics, capabilities, the API document"),
    ),
    paths(
        servers::create_server,
        servers::list_servers,
        servers::create_channel,
        servers::list_channels,
        servers::add_member,
        communities::my_channels,
        communities::list_roles,
        communities::list_members,
        communities::remove_member,
        communities::set_role,
        communities::leave,
        communities::create_invitation,
        communities::list_invitations,
        communities::revoke_invitation,
        communities::preview_invitation,
        communities::accept_invitation,
        profiles::get_me,
        profiles::put_me,
        profiles::upload_avatar,
        profiles::get_avatar,
        profiles::batch,
        devices::list,
        devices::link_start,
        devices::link_confirm,
        devices::revoke,
        keys::publish_envelopes,
        keys::read_envelopes,
        keys::ack_envelopes,
        keys::upload_packages,
        keys::claim_packages,
        keys::count_packages,
        keys::put_backup,
        keys::latest_backup,
        channels::commit_membership,
        channels::membership,
        channels::propose_removal,
        channels::welcome,
        channels::send_message,
        channels::history,
        realtime::realtime,
        serve,
    ),
    components(schemas(crate::DeviceRef, crate::HistoryDirection)),
)]
struct ApiDoc;

/// The document as JSON, built once.
pub fn document() -> &'static serde_json::Value {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.merge(external::External::openapi());
        let mut json = serde_json::to_value(&doc).unwrap_or_default();
        answers::complete(&mut json);
        refine(&mut json);
        describe_responses(&mut json);
        json
    })
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
/// rules across fields of a request body, the optional body of join-ticket.
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
    // The join-ticket body may be absent (no body, or only whitespace); when present it is an
    // object (`null`, `[]` are refused).
    doc["paths"]["/v1/rtc/channels/{channel_id}/join-ticket"]["post"]["requestBody"] = json!({
        "required": false,
        "content": { "application/json": {
            "schema": { "$ref": "#/components/schemas/JoinTicketRequest" }
        } }
    });
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
pub(crate) async fn serve() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-cache")], Json(document()))
}
