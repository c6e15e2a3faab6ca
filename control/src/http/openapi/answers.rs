//! The answers every route shares, added where the layer that produces them applies, and the
//! error codes of every error answer stated as an enum.
//!
//! Handlers document their own answers in `#[utoipa::path]`. An error answer's description
//! starts with its codes, comma-separated, optionally followed by `:` or `(` and a note:
//! `"server_not_found, member_not_found: unknown, or not a member"`. [`complete`] reads them into
//! the response schema (`error.code` as an enum) and adds what the layers in front of every
//! handler can answer:
//!
//! | answer | where | produced by |
//! | --- | --- | --- |
//! | 401 `missing_token`, `invalid_token`, `token_expired` | authenticated routes | signaling's auth middleware |
//! | 403 `device_revoked` | authenticated routes | signaling's auth middleware |
//! | 429 `rate_limited` + `Retry-After` | authenticated routes | signaling's rate limiter |
//! | 400 `invalid_request` | routes with a body, query or path parameters | the extractors ([`super::super::ApiJson`], [`super::super::ApiPath`], queries) |
//! | 413 `payload_too_large` | routes with a body | body limits |
//! | 500 `internal` | routes that use the database or sign tokens | [`super::super::ApiError::internal`] |
//! | 503 `too_many_connections` + `Retry-After` | every route | signaling's listener, at accept (connection caps) |

use serde_json::{Map, Value, json};

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// Operations that touch no storage and sign nothing, so never answer 500.
const NEVER_INTERNAL: [&str; 5] = [
    "/healthz",
    "/metrics",
    "/v1/client/capabilities",
    "/v1/openapi.json",
    "/v1/rtc/signaling",
];

/// The codes at the start of an error answer's description, and the note after them.
pub fn codes_of(description: &str) -> (Vec<String>, &str) {
    let end = description.find([':', '(']).unwrap_or(description.len());
    let codes = description[..end]
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    (codes, description[end..].trim_start_matches(':').trim())
}

/// Whether `code` looks like a stable code (`snake_case`).
pub fn is_code(code: &str) -> bool {
    code.starts_with(|c: char| c.is_ascii_lowercase())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn is_public(operation: &Value) -> bool {
    operation["security"]
        .as_array()
        .is_some_and(|s| s.iter().all(|r| r.as_object().is_some_and(Map::is_empty)))
}

/// Whether the operation reads parameters `in` the query or the path (both can be malformed:
/// a path segment that is not UTF-8 once decoded is a 400 of [`super::super::ApiPath`]).
fn has_params(operation: &Value, location: &str) -> bool {
    operation["parameters"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p["in"] == location))
}

/// Adds `codes` to the error answer `status` of `responses` (creating it).
fn add(responses: &mut Map<String, Value>, status: u16, codes: &[&str]) {
    let entry = responses
        .entry(status.to_string())
        .or_insert_with(|| json!({ "description": "" }));
    let description = entry["description"].as_str().unwrap_or("").to_owned();
    let (mut known, note) = codes_of(&description);
    for code in codes {
        if !known.iter().any(|k| k == code) {
            known.push((*code).to_owned());
        }
    }
    let mut description = known.join(", ");
    if !note.is_empty() {
        description.push_str(": ");
        description.push_str(note);
    }
    entry["description"] = description.into();
}

/// The schema of an error answer with these codes.
fn error_schema(codes: &[String]) -> Value {
    json!({
        "allOf": [
            { "$ref": "#/components/schemas/Error" },
            {
                "type": "object",
                "properties": {
                    "error": {
                        "type": "object",
                        "properties": { "code": { "type": "string", "enum": codes } }
                    }
                }
            }
        ]
    })
}

/// The `Retry-After` header: always sent with 429; with 503 only for `too_many_connections`
/// (a route's own 503, such as `not_ready`, comes without it), so not `required` there.
fn retry_after(required: bool) -> Value {
    json!({
        "Retry-After": {
            "description": "seconds to wait before retrying",
            "required": required,
            "schema": { "type": "integer", "minimum": 1 }
        }
    })
}

/// Completes every operation of `doc` (see the module docs).
pub(super) fn complete(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            let Some(operation) = item.get_mut(method) else {
                continue;
            };
            let public = is_public(operation);
            let body = operation.get("requestBody").is_some();
            let params = has_params(operation, "query") || has_params(operation, "path");
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            if !public {
                add(
                    responses,
                    401,
                    &["missing_token", "invalid_token", "token_expired"],
                );
                add(responses, 403, &["device_revoked"]);
                add(responses, 429, &["rate_limited"]);
                responses["429"]["headers"] = retry_after(true);
            }
            if body || params {
                add(responses, 400, &["invalid_request"]);
            }
            if body {
                add(responses, 413, &["payload_too_large"]);
            }
            if !NEVER_INTERNAL.contains(&path.as_str()) {
                add(responses, 500, &["internal"]);
            }
            add(responses, 503, &["too_many_connections"]);
            responses["503"]["headers"] = retry_after(false);
            for (status, response) in responses.iter_mut() {
                if !status.starts_with(['4', '5']) {
                    continue;
                }
                let description = response["description"].as_str().unwrap_or("");
                let (codes, _) = codes_of(description);
                response["content"] = json!({
                    "application/json": { "schema": error_schema(&codes) }
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_note() {
        assert_eq!(
            codes_of("server_not_found, member_not_found: unknown"),
            (
                vec!["server_not_found".to_owned(), "member_not_found".to_owned()],
                "unknown"
            )
        );
        assert_eq!(
            codes_of("invalid_request (details.fields)"),
            (vec!["invalid_request".to_owned()], "(details.fields)")
        );
        assert!(is_code("device_revoked"));
        assert!(!is_code("stale epoch"));
    }

    #[test]
    fn adds_shared_answers() {
        let mut doc = json!({"paths": {
            "/v1/x": {"post": {
                "requestBody": {},
                "responses": {"403": {"description": "forbidden: role too low"}}
            }},
            "/healthz": {"get": {"security": [{}], "responses": {"200": {"description": "ok"}}}}
        }});
        complete(&mut doc);
        let post = &doc["paths"]["/v1/x"]["post"]["responses"];
        assert_eq!(
            post["403"]["description"],
            "forbidden, device_revoked: role too low"
        );
        assert_eq!(
            post["403"]["content"]["application/json"]["schema"]["allOf"][1]["properties"]["error"]
                ["properties"]["code"]["enum"],
            json!(["forbidden", "device_revoked"])
        );
        for status in ["400", "401", "413", "429", "500", "503"] {
            assert!(post[status].is_object(), "{status}");
        }
        assert!(post["429"]["headers"]["Retry-After"].is_object());
        assert!(post["503"]["headers"]["Retry-After"].is_object());
        // A public route that touches no storage: only the connection cap is added.
        let health = &doc["paths"]["/healthz"]["get"]["responses"];
        assert_eq!(health.as_object().map(Map::len), Some(2));
        assert!(health["503"].is_object());
    }
}
