//! Handlers of `/v1/channels/{channel_id}/...`: membership commits, proposals, welcomes,
//! messages and history.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;

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

/// The routes of this file (state applied by the caller).
pub(crate) fn routes() -> Router<Control> {
    Router::new()
        .route(
            "/v1/channels/{channel_id}/membership/commit",
            post(commit_membership),
        )
        .route("/v1/channels/{channel_id}/membership", get(membership))
        .route(
            "/v1/channels/{channel_id}/membership/proposals",
            post(propose_removal),
        )
        .route("/v1/channels/{channel_id}/welcome", get(welcome))
        .route("/v1/channels/{channel_id}/messages", post(send_message))
        .route("/v1/channels/{channel_id}/history", get(history))
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
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::invalid_request("invalid JSON body")
            .with_details(serde_json::json!({ "reason": e.to_string() }))
    })
}

/// `POST /v1/channels/{channel_id}/membership/commit`: 201 with the accepted commit.
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

/// `GET /v1/channels/{channel_id}/membership`: current epoch, member devices, pending proposals.
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProposeBody {
    user_id: String,
    device_id: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /v1/channels/{channel_id}/membership/proposals`: 201 with the pending removal;
/// owners and moderators only.
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

/// `GET /v1/channels/{channel_id}/welcome`: the latest welcome for the caller's device, or
/// 404 `welcome_not_found`.
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

/// `POST /v1/channels/{channel_id}/messages`: 201 with the message, or 200 with the original
/// for a retried `client_message_id`.
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
#[derive(Debug, Deserialize)]
pub(crate) struct HistoryParams {
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    direction: Option<HistoryDirection>,
}

/// `GET /v1/channels/{channel_id}/history?cursor=&limit=&direction=backward|forward`.
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
