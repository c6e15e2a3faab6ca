//! Extractors whose rejections are [`ApiError`]s (never axum's plain-text defaults).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use openchat_protocol::{DeviceId, UserId};
use serde::de::DeserializeOwned;

use super::ApiError;

/// Identity of the authenticated caller; signaling's auth middleware inserts it into request
/// extensions. As an extractor it answers 401 `missing_token` when absent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The user (JWT subject).
    pub user_id: UserId,
    /// The device the user authenticated from.
    pub device_id: DeviceId,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(ApiError::missing_token)
    }
}

/// A JSON request body: a JSON **object** (`[]`, `null` or a scalar are refused even where the
/// target type could be read from them), sent with `Content-Type: application/json` (or
/// `*/*+json`). Rejections: 400 `invalid_request` with the reason in `details.reason`, 413
/// `payload_too_large` over the route's body limit.
#[derive(Clone, Copy, Debug, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::invalid_request("invalid JSON body").with_details(
                serde_json::json!({ "reason": "expected Content-Type: application/json" }),
            ));
        }
        let ApiBody(bytes) = ApiBody::from_request(req, state).await?;
        json_object(&bytes).map(ApiJson)
    }
}

fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || (essence.len() > 5
            && essence.is_char_boundary(essence.len() - 5)
            && essence[essence.len() - 5..].eq_ignore_ascii_case("+json")
            && essence.contains('/'))
}

/// Reads `bytes` as a JSON object into `T`: 400 `invalid_request` (with `details.reason`) for
/// malformed JSON, anything but an object at the top level, or fields of the wrong type.
pub fn json_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(ApiError::invalid_request("invalid JSON body")
            .with_details(serde_json::json!({ "reason": "the body must be a JSON object" })));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::invalid_request("invalid JSON body")
            .with_details(serde_json::json!({ "reason": e.to_string() }))
    })
}

/// The raw request body, with the route's body limit: 413 `payload_too_large` over it, 400
/// `invalid_request` when it cannot be read.
#[derive(Clone, Debug, Default)]
pub struct ApiBody(pub Bytes);

impl<S> FromRequest<S> for ApiBody
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(ApiBody(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the body is larger than this route accepts",
                ))
            }
            Err(rejection) => Err(ApiError::invalid_request("cannot read the body")
                .with_details(serde_json::json!({ "reason": rejection.body_text() }))),
        }
    }
}

/// `axum::extract::Path` whose rejection is a 400 `invalid_request`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(ApiError::invalid_request("invalid path")
                .with_details(serde_json::json!({ "reason": rejection.body_text() }))),
        }
    }
}
