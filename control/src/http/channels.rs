//! Handlers of `/v1/channels/{channel_id}/...`: membership commits, proposals, welcomes,
//! messages and history.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::ErrorSchema;
use super::{ApiError, ApiPath, Caller};
use crate::epochs::DeviceRef;
use crate::epochs::WelcomeMessage;
use crate::messages::HistoryQuery;
use crate::{
    CommitOutcome, CommitRequest, Control, History, HistoryDirection, Membership, Message,
    NewMessage, Proposal,
};

/// Largest message body: 64 KiB of ciphertext is about 87 KiB of base64, plus metadata.
const MESSAGE_BODY_LIMIT: usize = 96 * 1024;

/// Largest commit body (the commit plus one welcome per added device).
const COMMIT_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// Largest proposal body.
const PROPOSAL_BODY_LIMIT: usize = 4 * 1024;

/// The routes of this file, with their OpenAPI entries (state applied by the caller).
pub(crate) fn routes() -> OpenApiRouter<Control> {
    OpenApiRouter::new()
        .routes(routes!(commit_membership))
        .routes(routes!(membership))
        .routes(routes!(propose_removal))
        .routes(routes!(welcome))
        .routes(routes!(send_message))
        .routes(routes!(history))
}

fn device_of(caller: &Caller) -> DeviceRef {
    DeviceRef::new(&caller.user_id, &caller.device_id)
}

/// Reads a JSON body of at most `limit` bytes: 413 `payload_too_large` beyond, 400
/// `invalid_request` when malformed.
async fn read_json<T: DeserializeOwned>(body: Body, limit: usize) -> Result<T, ApiError> {
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is over {limit} bytes"),
        )
    })?;
    super::json_object(&bytes)
}

/// Commits a membership change. Accepted only for the current epoch (compare-and-swap e ->
/// e+1); the first commit for an epoch wins.
#[utoipa::path(post, path = "/v1/channels/{channel_id}/membership/commit", tag = "chat",
    params(("channel_id" = String, Path, description = "channel id", pattern = "^[A-Za-z0-9_-]{1,64}$")), request_body = CommitRequest,
    responses((status = 201, description = "the accepted commit", body = CommitOutcome),
        (status = 403, description = "not_a_channel_member, device_not_linked, device_revoked", body = ErrorSchema),
        (status = 404, description = "channel_not_found", body = ErrorSchema),
        (status = 409, description = "epoch_conflict, pending_proposals_omitted (details.current_epoch, details.pending_proposals)", body = ErrorSchema),
        (status = 413, description = "payload_too_large: a commit or welcome over 64 KiB, more than 4096 changes, a body over 4 MiB", body = ErrorSchema),
        (status = 422, description = "invalid_membership_change (details.user_id, details.device_id, details.reason)", body = ErrorSchema)))]
pub(crate) async fn commit_membership(
    State(control): State<Control>,
    caller: Caller,
    ApiPath(channel_id): ApiPath<String>,
    body: Body,
) -> Result<(StatusCode, Json<CommitOutcome>), ApiError> {
    let request: CommitRequest = read_json(body, COMMIT_BODY_LIMIT).await?;
    // A user's first device registers implicitly (it may bootstrap a group by adding itself).
    control
        .ensure_device(&caller.user_id, &caller.device_id)
        .await?;
    let outcome = control
        .commit_membership(&device_of(&caller), &channel_id, request)
        .await?;
    Ok((StatusCode::CREATED, Json(outcome)))
}

/// The channel's current epoch, member devices and pending proposals.
#[utoipa::path(get, path = "/v1/channels/{channel_id}/membership", tag = "chat",
    params(("channel_id" = String, Path, description = "channel id", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses((status = 200, body = Membership),
        (status = 404, description = "channel_not_found", body = ErrorSchema)))]
pub(crate) async fn membership(
    State(control): State<Control>,
    caller: Caller,
    ApiPath(channel_id): ApiPath<String>,
) -> Result<Json<Membership>, ApiError> {
    Ok(Json(
        control.membership(&caller.user_id, &channel_id).await?,
    ))
}

/// Body of `POST /v1/channels/{channel_id}/membership/proposals`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProposeBody {
    /// The device's user.
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$")]
    user_id: String,
    /// The device to remove.
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$")]
    device_id: String,
    /// Free text, at most 500 characters, no control characters.
    #[serde(default)]
    #[schema(max_length = 500, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    reason: Option<String>,
}

/// Proposes removing a device from the channel's group (owners and moderators); the next
/// commit must carry it out. Proposing the same removal twice returns the pending one.
#[utoipa::path(post, path = "/v1/channels/{channel_id}/membership/proposals", tag = "chat",
    params(("channel_id" = String, Path, description = "channel id", pattern = "^[A-Za-z0-9_-]{1,64}$")), request_body = ProposeBody,
    responses((status = 201, description = "the pending proposal", body = Proposal),
        (status = 403, description = "forbidden", body = ErrorSchema),
        (status = 404, description = "channel_not_found", body = ErrorSchema),
        (status = 409, description = "not_a_channel_member: the device is not in the group", body = ErrorSchema)))]
pub(crate) async fn propose_removal(
    State(control): State<Control>,
    caller: Caller,
    ApiPath(channel_id): ApiPath<String>,
    body: Body,
) -> Result<(StatusCode, Json<Proposal>), ApiError> {
    let body: ProposeBody = read_json(body, PROPOSAL_BODY_LIMIT).await?;
    let device = DeviceRef::new(&body.user_id, &body.device_id);
    let proposal = control
        .propose_removal_as(
            &caller.user_id,
            &channel_id,
            &device,
            body.reason.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(proposal)))
}

/// The latest welcome for the caller's device (released once its commit was accepted).
#[utoipa::path(get, path = "/v1/channels/{channel_id}/welcome", tag = "chat",
    params(("channel_id" = String, Path, description = "channel id", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses((status = 200, body = WelcomeMessage),
        (status = 404, description = "welcome_not_found, channel_not_found", body = ErrorSchema)))]
pub(crate) async fn welcome(
    State(control): State<Control>,
    caller: Caller,
    ApiPath(channel_id): ApiPath<String>,
) -> Result<Json<WelcomeMessage>, ApiError> {
    control
        .welcome_for(&device_of(&caller), &channel_id)
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "welcome_not_found",
                "no welcome for this device",
            )
        })
}

/// Sends an E2EE envelope: 201 with the stored message, or 200 with the original for a
/// retried `client_message_id`. A 2xx means it is committed.
#[utoipa::path(post, path = "/v1/channels/{channel_id}/messages", tag = "chat",
    params(("channel_id" = String, Path, description = "channel id", pattern = "^[A-Za-z0-9_-]{1,64}$")), request_body = NewMessage,
    responses((status = 201, description = "the stored message", body = Message),
        (status = 200, description = "the original message (idempotent retry)", body = Message),
        (status = 403, description = "not_a_channel_member, forbidden: only the author deletes", body = ErrorSchema),
        (status = 404, description = "channel_not_found, message_not_found: refers_to names no message of the channel", body = ErrorSchema),
        (status = 409, description = "stale_epoch, unknown_epoch, client_message_id_reused (details.current_epoch)", body = ErrorSchema),
        (status = 413, description = "payload_too_large: ciphertext over 64 KiB, metadata over 1 KiB, a body over 96 KiB", body = ErrorSchema)))]
pub(crate) async fn send_message(
    State(control): State<Control>,
    caller: Caller,
    ApiPath(channel_id): ApiPath<String>,
    body: Body,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    let new: NewMessage = read_json(body, MESSAGE_BODY_LIMIT).await?;
    let outcome = control
        .send_message(&device_of(&caller), &channel_id, new)
        .await?;
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(outcome.message)))
}

/// Query of `GET /v1/channels/{channel_id}/history`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryParams {
    /// A previous page's `next_cursor` (a position in the channel).
    #[serde(default)]
    #[param(pattern = "^[0-9]{1,18}$")]
    cursor: Option<String>,
    /// Page size, 1-200 (default 50).
    #[serde(default)]
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// `backward` (default: newest first) or `forward` (oldest first).
    #[serde(default)]
    direction: Option<HistoryDirection>,
}

/// History visible to the caller's device (envelopes of epochs it was a member of),
/// cursor-paginated.
#[utoipa::path(get, path = "/v1/channels/{channel_id}/history", tag = "chat",
    params(("channel_id" = String, Path, description = "channel id", pattern = "^[A-Za-z0-9_-]{1,64}$"), HistoryParams),
    responses((status = 200, body = History),
        (status = 404, description = "channel_not_found", body = ErrorSchema)))]
pub(crate) async fn history(
    State(control): State<Control>,
    caller: Caller,
    ApiPath(channel_id): ApiPath<String>,
    params: Result<Query<HistoryParams>, QueryRejection>,
) -> Result<Json<History>, ApiError> {
    let Query(params) = params.map_err(|e| {
        ApiError::invalid_request("invalid query")
            .with_details(serde_json::json!({ "reason": e.body_text() }))
    })?;
    let query = HistoryQuery {
        cursor: params.cursor,
        limit: params.limit,
        direction: params.direction.unwrap_or_default(),
    };
    Ok(Json(
        control
            .history(&device_of(&caller), &channel_id, query)
            .await?,
    ))
}
