//! Handlers of `/v1/profile...` and `/v1/profiles:batch`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::openapi::ErrorSchema;
use super::{ApiError, ApiJson, ApiPath, Caller};
use crate::{AvatarAsset, Control, Profile, ProfileUpdate, ProfilesError};

impl From<ProfilesError> for ApiError {
    fn from(e: ProfilesError) -> ApiError {
        let code = e.code();
        let message = e.to_string();
        let status = match e {
            ProfilesError::Invalid(fields) => {
                return ApiError::invalid_request(message)
                    .with_details(serde_json::json!({ "fields": fields }));
            }
            ProfilesError::PayloadTooLarge { max_bytes } => {
                return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, code, message)
                    .with_details(serde_json::json!({ "max_bytes": max_bytes }));
            }
            ProfilesError::Io(cause) => return ApiError::internal(cause),
            ProfilesError::Storage(cause) => return ApiError::internal(cause),
            ProfilesError::AvatarsUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ProfilesError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProfilesError::AvatarNotFound => StatusCode::NOT_FOUND,
        };
        ApiError::new(status, code, message)
    }
}

/// Body of `PUT /v1/profile/me`: the new values (absent or `null` clears a field).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateProfileBody {
    /// At most 64 characters, no control characters; trimmed; blank clears it.
    #[serde(default)]
    #[schema(max_length = 64, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    display_name: Option<String>,
    /// At most 140 characters, no control characters; trimmed; blank clears it.
    #[serde(default)]
    #[schema(max_length = 140, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    status: Option<String>,
}

/// Query of `GET /v1/profiles:batch`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct BatchQuery {
    /// 1-100 user ids separated by commas (no spaces, no empty items).
    #[param(pattern = "^[A-Za-z0-9_.-]{1,64}(?:,[A-Za-z0-9_.-]{1,64}){0,99}$")]
    ids: String,
}

/// `{"profiles": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProfileList {
    profiles: Vec<Profile>,
}

/// The caller's profile.
#[utoipa::path(get, path = "/v1/profile/me", tag = "profiles",
    responses((status = 200, body = Profile)))]
pub(crate) async fn get_me(
    State(control): State<Control>,
    caller: Caller,
) -> Result<Json<Profile>, ApiError> {
    Ok(Json(control.profile(&caller.user_id).await?))
}

/// Replaces the caller's display name and status.
#[utoipa::path(put, path = "/v1/profile/me", tag = "profiles", request_body = UpdateProfileBody,
    responses((status = 200, body = Profile),
        (status = 400, description = "invalid_request (details.fields)", body = ErrorSchema)))]
pub(crate) async fn put_me(
    State(control): State<Control>,
    caller: Caller,
    ApiJson(body): ApiJson<UpdateProfileBody>,
) -> Result<Json<Profile>, ApiError> {
    let update = ProfileUpdate {
        display_name: body.display_name,
        status: body.status,
    };
    Ok(Json(control.update_profile(&caller.user_id, update).await?))
}

/// Uploads the caller's avatar: the raw image as the body (PNG, JPEG, WebP or GIF, sniffed
/// from the bytes; the Content-Type header is ignored).
#[utoipa::path(post, path = "/v1/profile/avatar", tag = "profiles",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = AvatarAsset),
        (status = 413, description = "payload_too_large (details.max_bytes)", body = ErrorSchema),
        (status = 415, description = "unsupported_media_type", body = ErrorSchema),
        (status = 503, description = "avatars_unavailable", body = ErrorSchema)))]
pub(crate) async fn upload_avatar(
    State(control): State<Control>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<AvatarAsset>), ApiError> {
    let max_bytes = control.options().avatar_max_bytes;
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::from(ProfilesError::PayloadTooLarge { max_bytes })
        } else {
            ApiError::invalid_request("cannot read the body")
                .with_details(serde_json::json!({ "reason": e.body_text() }))
        }
    })?;
    let asset = control.upload_avatar(&caller.user_id, &bytes).await?;
    Ok((StatusCode::CREATED, Json(asset)))
}

/// An avatar image. Public (no token): asset ids are content hashes, so the answer is cached
/// forever (`Cache-Control: public, max-age=31536000, immutable`, `ETag`; `If-None-Match`
/// answers 304).
#[utoipa::path(get, path = "/v1/profile/avatar/{asset_id}", tag = "profiles",
    params(("asset_id" = String, Path, description = "SHA-256 of the image, hex")),
    security(()),
    responses((status = 200, description = "the image", content_type = "image/*", body = Vec<u8>),
        (status = 304, description = "not modified"),
        (status = 404, description = "avatar_not_found", body = ErrorSchema)))]
pub(crate) async fn get_avatar(
    State(control): State<Control>,
    ApiPath(asset_id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let avatar = control.avatar(&asset_id).await?;
    let etag = format!("\"{}\"", avatar.asset_id);
    let cache = HeaderValue::from_static("public, max-age=31536000, immutable");
    let etag_value = HeaderValue::from_str(&etag).map_err(ApiError::internal)?;
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag_value), (header::CACHE_CONTROL, cache)],
        )
            .into_response());
    }
    let content_type = HeaderValue::from_str(&avatar.content_type).map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::ETAG, etag_value),
            (header::CACHE_CONTROL, cache),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        avatar.bytes,
    )
        .into_response())
}

/// Profiles of up to 100 users; users the caller shares no server with are left out.
#[utoipa::path(get, path = "/v1/profiles:batch", tag = "profiles", params(BatchQuery),
    responses((status = 200, body = ProfileList),
        (status = 400, description = "invalid_request", body = ErrorSchema)))]
pub(crate) async fn batch(
    State(control): State<Control>,
    caller: Caller,
    query: Result<Query<BatchQuery>, QueryRejection>,
) -> Result<Json<ProfileList>, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::invalid_request("invalid query")
            .with_details(serde_json::json!({ "reason": e.body_text() }))
    })?;
    // Exactly `id(,id)*`: no blanks, no empty items (the schema's pattern).
    let ids: Vec<String> = query.ids.split(',').map(str::to_owned).collect();
    let profiles = control.profiles_batch(&caller.user_id, &ids).await?;
    Ok(Json(ProfileList { profiles }))
}
