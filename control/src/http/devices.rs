//! Handlers of `/v1/devices...`: list, link start/confirm, revoke.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::openapi::ErrorSchema;
use super::{ApiError, ApiJson, ApiPath, Caller};
use crate::{Control, Device, DevicesError, LinkCode};

impl From<DevicesError> for ApiError {
    fn from(e: DevicesError) -> ApiError {
        let code = e.code();
        let status = match &e {
            DevicesError::Storage(cause) => return ApiError::internal(cause),
            DevicesError::InvalidDeviceId => {
                return ApiError::invalid_request(e.to_string())
                    .with_details(serde_json::json!({ "fields": { "device_id": "must match [A-Za-z0-9_.-]{1,64}" } }));
            }
            DevicesError::InvalidName => {
                return ApiError::invalid_request(e.to_string())
                    .with_details(serde_json::json!({ "fields": { "name": "must be at most 64 characters, no control characters" } }));
            }
            DevicesError::DeviceLimitReached { limit } => {
                return ApiError::new(StatusCode::CONFLICT, code, e.to_string())
                    .with_details(serde_json::json!({ "limit": limit }));
            }
            DevicesError::DeviceNotLinked | DevicesError::DeviceRevoked => StatusCode::FORBIDDEN,
            DevicesError::DeviceNotFound | DevicesError::LinkCodeNotFound => StatusCode::NOT_FOUND,
            DevicesError::DeviceAlreadyLinked | DevicesError::LinkCodeUsed => StatusCode::CONFLICT,
            DevicesError::LinkCodeExpired => StatusCode::GONE,
        };
        ApiError::new(status, code, e.to_string())
    }
}

/// Body of `POST /v1/devices/link/confirm`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfirmLinkBody {
    /// The code shown on the existing device (dashes, spaces and case are ignored).
    #[schema(max_length = 64)]
    code: String,
    /// Optional display name of the new device: at most 64 characters, no control characters.
    #[serde(default)]
    #[schema(max_length = 64, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    name: Option<String>,
}

/// `{"devices": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeviceList {
    devices: Vec<Device>,
}

/// Active devices of the caller's user (registers the caller's device if it is the first).
#[utoipa::path(get, path = "/v1/devices", tag = "devices",
    responses((status = 200, body = DeviceList),
        (status = 403, description = "device_not_linked, device_revoked", body = ErrorSchema)))]
pub(crate) async fn list(
    State(control): State<Control>,
    caller: Caller,
) -> Result<Json<DeviceList>, ApiError> {
    control
        .ensure_device(&caller.user_id, &caller.device_id)
        .await?;
    let devices = control.devices_of(&caller.user_id).await?;
    Ok(Json(DeviceList { devices }))
}

/// Issues a single-use link code (10 minutes) from the caller's active device.
#[utoipa::path(post, path = "/v1/devices/link/start", tag = "devices",
    responses((status = 201, body = LinkCode),
        (status = 403, description = "device_not_linked, device_revoked", body = ErrorSchema),
        (status = 409, description = "device_limit_reached (details.limit)", body = ErrorSchema)))]
pub(crate) async fn link_start(
    State(control): State<Control>,
    caller: Caller,
) -> Result<(StatusCode, Json<LinkCode>), ApiError> {
    let code = control
        .start_device_link(&caller.user_id, &caller.device_id)
        .await?;
    Ok((StatusCode::CREATED, Json(code)))
}

/// Redeems a link code: registers the caller's (new) device.
#[utoipa::path(post, path = "/v1/devices/link/confirm", tag = "devices",
    request_body = ConfirmLinkBody,
    responses((status = 201, body = Device),
        (status = 403, description = "device_revoked", body = ErrorSchema),
        (status = 404, description = "link_code_not_found", body = ErrorSchema),
        (status = 409, description = "link_code_used, device_already_linked, device_limit_reached", body = ErrorSchema),
        (status = 410, description = "link_code_expired", body = ErrorSchema)))]
pub(crate) async fn link_confirm(
    State(control): State<Control>,
    caller: Caller,
    ApiJson(body): ApiJson<ConfirmLinkBody>,
) -> Result<(StatusCode, Json<Device>), ApiError> {
    let device = control
        .confirm_device_link(
            &caller.user_id,
            &caller.device_id,
            &body.code,
            body.name.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(device)))
}

/// Revokes one of the caller's devices (the caller's device must be active).
#[utoipa::path(delete, path = "/v1/devices/{device_id}", tag = "devices",
    params(("device_id" = String, Path, description = "device to revoke")),
    responses((status = 200, description = "the revoked device", body = Device),
        (status = 403, description = "device_not_linked, device_revoked", body = ErrorSchema),
        (status = 404, description = "device_not_found", body = ErrorSchema)))]
pub(crate) async fn revoke(
    State(control): State<Control>,
    caller: Caller,
    ApiPath(device_id): ApiPath<String>,
) -> Result<Json<Device>, ApiError> {
    control
        .ensure_device(&caller.user_id, &caller.device_id)
        .await?;
    let device = control.revoke_device(&caller.user_id, &device_id).await?;
    Ok(Json(device))
}
