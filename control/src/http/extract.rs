//! Extractors whose rejections are [`ApiError`]s (never axum's plain-text defaults).

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::ApiError;

/// Identity of the authenticated caller; signaling's auth middleware inserts it into request
/// extensions. As an extractor it answers 401 `missing_token` when absent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The user (JWT subject).
    pub user_id: String,
    /// The device the user authenticated from.
    pub device_id: String,
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

/// `axum::Json` whose rejection (malformed JSON, wrong types, missing content type) is a 400
/// `invalid_request` with the reason in `details.reason`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the body is larger than this route accepts",
                ))
            }
            Err(rejection) => Err(ApiError::invalid_request("invalid JSON body")
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
