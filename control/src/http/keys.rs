//! Handlers of `/v1/keys...`: envelopes, key packages and backups.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::openapi::{ErrorSchema, schemas};
use super::{ApiError, ApiJson, Caller};
use crate::{
    ClaimedKeyPackage, Control, KeyBackup, KeyPackageCount, KeysError, NewKeyEnvelope,
    PendingEnvelopes,
};

impl From<KeysError> for ApiError {
    fn from(e: KeysError) -> ApiError {
        let code = e.code();
        let message = e.to_string();
        let (status, details) = match e {
            KeysError::Invalid(fields) => {
                return ApiError::invalid_request(message)
                    .with_details(serde_json::json!({ "fields": fields }));
            }
            KeysError::Device(inner) => return inner.into(),
            KeysError::Storage(cause) => return ApiError::internal(cause),
            KeysError::DeviceNotFound { index } => {
                (StatusCode::NOT_FOUND, serde_json::json!({ "index": index }))
            }
            KeysError::PayloadTooLarge { max_bytes, index } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                serde_json::json!({
                    "max_bytes": max_bytes,
                    "max_chars": crate::payload::max_chars(max_bytes),
                    "index": index,
                }),
            ),
            KeysError::QueueFull { index, max } => (
                StatusCode::CONFLICT,
                serde_json::json!({ "index": index, "max": max }),
            ),
            KeysError::NoKeyPackage { device_id } => (
                StatusCode::NOT_FOUND,
                serde_json::json!({ "device_id": device_id }),
            ),
            KeysError::KeyPackageLimit { max } => {
                (StatusCode::CONFLICT, serde_json::json!({ "max": max }))
            }
            KeysError::StaleBackupVersion { current_version } => (
                StatusCode::CONFLICT,
                serde_json::json!({ "current_version": current_version }),
            ),
            KeysError::BackupNotFound => (StatusCode::NOT_FOUND, serde_json::json!({})),
        };
        ApiError::new(status, code, message).with_details(details)
    }
}

/// One envelope of `POST /v1/keys/envelopes/publish`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnvelopeBody {
    /// Recipient user.
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$")]
    user_id: String,
    /// Recipient device.
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$")]
    device_id: String,
    /// Opaque payload, standard base64, 1 byte to 64 KiB decoded.
    #[schema(schema_with = schemas::base64_64k)]
    payload: String,
}

/// Body of `POST /v1/keys/envelopes/publish`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PublishBody {
    /// 1-100 envelopes; all or none are stored.
    #[schema(min_items = 1, max_items = 100)]
    envelopes: Vec<EnvelopeBody>,
}

/// Answer of a publish.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Published {
    /// Queue positions of the stored envelopes, in request order.
    ids: Vec<i64>,
}

/// Query of `GET /v1/keys/envelopes`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReadQuery {
    /// The reading device; must be the caller's own (default: the caller's).
    #[param(pattern = "^[A-Za-z0-9_.-]{1,64}$")]
    device_id: Option<String>,
    /// Acknowledges (deletes) the envelopes delivered up to this cursor first.
    cursor: Option<i64>,
    /// At most this many envelopes, 1-100 (default 100).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// Body of `POST /v1/keys/envelopes/ack`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AckBody {
    /// The acknowledging device (default: the caller's).
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$")]
    device_id: Option<String>,
    /// Deletes the delivered envelopes with ids up to this one.
    #[serde(deserialize_with = "crate::json_number::integer")]
    up_to: i64,
}

/// Answer of an ack.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Acked {
    /// How many envelopes were deleted.
    deleted: u64,
}

/// Body of `POST /v1/keys/packages`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UploadPackagesBody {
    /// 0-100 opaque packages, standard base64, 1 byte to 16 KiB decoded each.
    #[serde(default)]
    #[schema(schema_with = schemas::package_list)]
    packages: Vec<String>,
    /// Replaces the device's last-resort package (same format).
    #[serde(default)]
    #[schema(schema_with = schemas::base64_16k_or_null)]
    last_resort: Option<String>,
}

/// Body of `POST /v1/keys/packages/claim`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClaimBody {
    /// Whose packages.
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$")]
    user_id: String,
    /// One device; absent: one package for each active device of the user.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$")]
    device_id: Option<String>,
}

/// Answer of a claim.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Claimed {
    packages: Vec<ClaimedKeyPackage>,
}

/// Body of `POST /v1/keys/backups`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BackupBody {
    /// The latest version this device knows (0 when none); the new one is this plus one.
    #[schema(minimum = 0, maximum = 9223372036854775806_i64)]
    #[serde(deserialize_with = "crate::json_number::integer")]
    expected_version: i64,
    /// Opaque payload, standard base64, 1 byte to `key_backup_max_bytes` (default 1 MiB)
    /// decoded.
    #[schema(schema_with = schemas::base64_backup)]
    payload: String,
}

fn own_device(caller: &Caller, asked: Option<&str>) -> Result<(), ApiError> {
    match asked {
        Some(device) if device != caller.device_id.as_str() => {
            Err(ApiError::from(KeysError::DeviceNotFound { index: None }))
        }
        _ => Ok(()),
    }
}

/// Publishes to-device key envelopes.
#[utoipa::path(post, path = "/v1/keys/envelopes/publish", tag = "keys",
    request_body = PublishBody,
    responses((status = 201, body = Published),
        (status = 400, description = "invalid_request", body = ErrorSchema),
        (status = 404, description = "device_not_found (details.index)", body = ErrorSchema),
        (status = 409, description = "envelope_queue_full (details.index, details.max)", body = ErrorSchema),
        (status = 413, description = "payload_too_large (details.index, details.max_bytes, details.max_chars)", body = ErrorSchema)))]
pub(crate) async fn publish_envelopes(
    State(control): State<Control>,
    caller: Caller,
    ApiJson(body): ApiJson<PublishBody>,
) -> Result<(StatusCode, Json<Published>), ApiError> {
    let envelopes: Vec<NewKeyEnvelope> = body
        .envelopes
        .into_iter()
        .map(|e| NewKeyEnvelope {
            user_id: e.user_id,
            device_id: e.device_id,
            payload: e.payload,
        })
        .collect();
    let ids = control
        .publish_key_envelopes(&caller.user_id, &caller.device_id, &envelopes)
        .await?;
    Ok((StatusCode::CREATED, Json(Published { ids })))
}

/// Pending envelopes of the caller's device, in order; each is delivered once.
#[utoipa::path(get, path = "/v1/keys/envelopes", tag = "keys", params(ReadQuery),
    responses((status = 200, body = PendingEnvelopes),
        (status = 404, description = "device_not_found: not the caller's device", body = ErrorSchema)))]
pub(crate) async fn read_envelopes(
    State(control): State<Control>,
    caller: Caller,
    query: Result<Query<ReadQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PendingEnvelopes>, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::invalid_request("invalid query")
            .with_details(serde_json::json!({ "reason": e.body_text() }))
    })?;
    own_device(&caller, query.device_id.as_deref())?;
    let pending = control
        .read_key_envelopes(
            &caller.user_id,
            &caller.device_id,
            query.cursor,
            query.limit,
        )
        .await?;
    Ok(Json(pending))
}

/// Acknowledges (deletes) delivered envelopes up to a cursor.
#[utoipa::path(post, path = "/v1/keys/envelopes/ack", tag = "keys", request_body = AckBody,
    responses((status = 200, body = Acked),
        (status = 404, description = "device_not_found", body = ErrorSchema)))]
pub(crate) async fn ack_envelopes(
    State(control): State<Control>,
    caller: Caller,
    ApiJson(body): ApiJson<AckBody>,
) -> Result<Json<Acked>, ApiError> {
    own_device(&caller, body.device_id.as_deref())?;
    let deleted = control
        .ack_key_envelopes(&caller.user_id, &caller.device_id, body.up_to)
        .await?;
    Ok(Json(Acked { deleted }))
}

/// Uploads key packages for the caller's device (1-100 per call).
#[utoipa::path(post, path = "/v1/keys/packages", tag = "keys", request_body = UploadPackagesBody,
    responses((status = 201, description = "the device's stock after the upload", body = KeyPackageCount),
        (status = 400, description = "invalid_request", body = ErrorSchema),
        (status = 409, description = "key_package_limit", body = ErrorSchema),
        (status = 413, description = "payload_too_large", body = ErrorSchema)))]
pub(crate) async fn upload_packages(
    State(control): State<Control>,
    caller: Caller,
    ApiJson(body): ApiJson<UploadPackagesBody>,
) -> Result<(StatusCode, Json<KeyPackageCount>), ApiError> {
    let count = control
        .upload_key_packages(
            &caller.user_id,
            &caller.device_id,
            &body.packages,
            body.last_resort.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(count)))
}

/// Claims one package per target device, atomically.
#[utoipa::path(post, path = "/v1/keys/packages/claim", tag = "keys", request_body = ClaimBody,
    responses((status = 200, body = Claimed),
        (status = 404, description = "device_not_found, no_key_package (details.device_id)", body = ErrorSchema)))]
pub(crate) async fn claim_packages(
    State(control): State<Control>,
    caller: Caller,
    ApiJson(body): ApiJson<ClaimBody>,
) -> Result<Json<Claimed>, ApiError> {
    let packages = control
        .claim_key_packages(
            &caller.user_id,
            &caller.device_id,
            &body.user_id,
            body.device_id.as_deref(),
        )
        .await?;
    Ok(Json(Claimed { packages }))
}

/// How many packages the caller's device has left.
#[utoipa::path(get, path = "/v1/keys/packages/count", tag = "keys",
    responses((status = 200, body = KeyPackageCount)))]
pub(crate) async fn count_packages(
    State(control): State<Control>,
    caller: Caller,
) -> Result<Json<KeyPackageCount>, ApiError> {
    let count = control
        .key_package_count(&caller.user_id, &caller.device_id)
        .await?;
    Ok(Json(count))
}

/// Writes a new backup version (`expected_version` + 1).
#[utoipa::path(post, path = "/v1/keys/backups", tag = "keys", request_body = BackupBody,
    responses((status = 201, description = "the stored version (no payload)", body = KeyBackup),
        (status = 409, description = "stale_backup_version (details.current_version)", body = ErrorSchema),
        (status = 413, description = "payload_too_large (details.max_bytes, details.max_chars)", body = ErrorSchema)))]
pub(crate) async fn put_backup(
    State(control): State<Control>,
    caller: Caller,
    ApiJson(body): ApiJson<BackupBody>,
) -> Result<(StatusCode, Json<KeyBackup>), ApiError> {
    let backup = control
        .put_key_backup(
            &caller.user_id,
            &caller.device_id,
            body.expected_version,
            &body.payload,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(backup)))
}

/// The latest backup, with its payload.
#[utoipa::path(get, path = "/v1/keys/backups/latest", tag = "keys",
    responses((status = 200, body = KeyBackup),
        (status = 404, description = "backup_not_found", body = ErrorSchema)))]
pub(crate) async fn latest_backup(
    State(control): State<Control>,
    caller: Caller,
) -> Result<Json<KeyBackup>, ApiError> {
    let backup = control
        .latest_key_backup(&caller.user_id, &caller.device_id)
        .await?;
    Ok(Json(backup))
}
