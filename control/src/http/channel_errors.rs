//! HTTP mapping of membership, proposal, send and history refusals.

use axum::http::StatusCode;
use serde_json::json;

use super::ApiError;
use crate::epochs::AccessError;
use crate::{CommitError, HistoryError, ProposalError, SendError};

fn invalid(fields: crate::FieldErrors) -> ApiError {
    ApiError::invalid_request("invalid input").with_details(json!({ "fields": fields }))
}

fn not_found(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, code, message)
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "an opaque payload is over 64 KiB, or the metadata over 1 KiB",
    )
}

/// 403 `banned` / `timed_out` with `details.until` (unix ms, `null`: no end set).
fn restricted(code: &'static str, message: &str, r: crate::Restriction) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, code, message).with_details(json!({ "until": r.until() }))
}

/// 404 `channel_not_found`, 400 `invalid_request`, 413 `payload_too_large`, 409
/// `epoch_conflict` (details `current_epoch`), 403 `not_a_channel_member`, 422
/// `invalid_membership_change` (details `user_id`, `device_id`, `reason`), 409
/// `pending_proposals_omitted` (details `pending_proposals`).
impl From<CommitError> for ApiError {
    fn from(e: CommitError) -> ApiError {
        let code = e.code();
        let message = e.to_string();
        match e {
            CommitError::ChannelNotFound => not_found(code, &message),
            CommitError::Invalid(fields) => invalid(fields),
            CommitError::PayloadTooLarge => too_large(),
            CommitError::EpochConflict { current_epoch } => {
                ApiError::new(StatusCode::CONFLICT, code, message)
                    .with_details(json!({ "current_epoch": current_epoch }))
            }
            CommitError::SenderNotMember => ApiError::new(StatusCode::FORBIDDEN, code, message),
            CommitError::InvalidChange { device, reason } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).with_details(
                    json!({ "user_id": device.user_id, "device_id": device.device_id,
                            "reason": reason }),
                )
            }
            CommitError::PendingProposalsOmitted { missing } => {
                ApiError::new(StatusCode::CONFLICT, code, message)
                    .with_details(json!({ "pending_proposals": missing }))
            }
            CommitError::Restricted(r) => restricted(code, &message, r),
            CommitError::Storage(e) => ApiError::internal(e),
        }
    }
}

/// 404 `channel_not_found`, 403 `forbidden`, 400 `invalid_request`, 409
/// `not_a_channel_member`.
impl From<ProposalError> for ApiError {
    fn from(e: ProposalError) -> ApiError {
        let code = e.code();
        let message = e.to_string();
        match e {
            ProposalError::ChannelNotFound => not_found(code, &message),
            ProposalError::Forbidden => ApiError::new(StatusCode::FORBIDDEN, code, message),
            ProposalError::Invalid(fields) => invalid(fields),
            ProposalError::NotAMember => ApiError::new(StatusCode::CONFLICT, code, message),
            ProposalError::Storage(e) => ApiError::internal(e),
        }
    }
}

/// 404 `channel_not_found` / `message_not_found`, 400 `invalid_request`, 413
/// `payload_too_large`, 403 `not_a_channel_member` / `forbidden`, 409 `stale_epoch` /
/// `unknown_epoch` (details `current_epoch`), 409 `client_message_id_reused`.
impl From<SendError> for ApiError {
    fn from(e: SendError) -> ApiError {
        let code = e.code();
        let message = e.to_string();
        match e {
            SendError::ChannelNotFound | SendError::ReferenceNotFound => not_found(code, &message),
            SendError::Invalid(fields) => invalid(fields),
            SendError::PayloadTooLarge => too_large(),
            SendError::NotAMember | SendError::NotTheAuthor => {
                ApiError::new(StatusCode::FORBIDDEN, code, message)
            }
            SendError::StaleEpoch { current_epoch } | SendError::UnknownEpoch { current_epoch } => {
                ApiError::new(StatusCode::CONFLICT, code, message)
                    .with_details(json!({ "current_epoch": current_epoch }))
            }
            SendError::ClientMessageIdReused => ApiError::new(StatusCode::CONFLICT, code, message),
            SendError::Restricted(r) => restricted(code, &message, r),
            SendError::Storage(e) => ApiError::internal(e),
        }
    }
}

/// 404 `channel_not_found`, 400 `invalid_request`.
impl From<HistoryError> for ApiError {
    fn from(e: HistoryError) -> ApiError {
        let code = e.code();
        match e {
            HistoryError::ChannelNotFound => not_found(code, "channel not found"),
            HistoryError::Invalid(fields) => invalid(fields),
            HistoryError::Storage(e) => ApiError::internal(e),
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> ApiError {
        match e {
            AccessError::ChannelNotFound => not_found("channel_not_found", "channel not found"),
            AccessError::Storage(e) => ApiError::internal(e),
        }
    }
}
