//! OpenAPI entries for the chat routes (membership epochs, messages, history, realtime), whose
//! handlers live in `http/channels.rs` and `http/realtime.rs`. Each is an empty function that
//! only holds its `#[utoipa::path]`. Bodies are described in `docs/control-api.md`.
#![allow(dead_code)]

use utoipa::OpenApi;

use super::ErrorSchema;

#[derive(OpenApi)]
#[openapi(paths(
    commit_membership,
    membership,
    propose_removal,
    welcome,
    send_message,
    history,
    realtime,
))]
pub(super) struct Chat;

/// Commits a membership change: `{epoch, commit, added, removed, welcomes, proposal_ids}`.
/// Accepted only for the current epoch (compare-and-swap e -> e+1); the first commit for an
/// epoch wins.
#[utoipa::path(post, path = "/v1/channels/{channel_id}/membership/commit", tag = "chat",
    params(("channel_id" = String, Path, description = "channel id")), request_body = Object,
    responses((status = 201, description = "the accepted commit", body = Object),
        (status = 400, description = "invalid_request", body = ErrorSchema),
        (status = 404, description = "channel_not_found", body = ErrorSchema),
        (status = 409, description = "epoch conflict: details carry the current epoch", body = ErrorSchema),
        (status = 413, description = "payload_too_large", body = ErrorSchema)))]
fn commit_membership() {}

/// The channel's current epoch, member devices and pending proposals.
#[utoipa::path(get, path = "/v1/channels/{channel_id}/membership", tag = "chat",
    params(("channel_id" = String, Path, description = "channel id")),
    responses((status = 200, description = "`{channel_id, epoch, members, pending_proposals}`", body = Object),
        (status = 404, description = "channel_not_found", body = ErrorSchema)))]
fn membership() {}

/// Proposes removing a device (owners and moderators): `{user_id, device_id, reason?}`. The
/// next commit must include it.
#[utoipa::path(post, path = "/v1/channels/{channel_id}/membership/proposals", tag = "chat",
    params(("channel_id" = String, Path, description = "channel id")), request_body = Object,
    responses((status = 201, description = "the pending proposal", body = Object),
        (status = 403, description = "forbidden", body = ErrorSchema),
        (status = 404, description = "channel_not_found", body = ErrorSchema)))]
fn propose_removal() {}

/// The latest welcome for the caller's device (released once its commit was accepted).
#[utoipa::path(get, path = "/v1/channels/{channel_id}/welcome", tag = "chat",
    params(("channel_id" = String, Path, description = "channel id")),
    responses((status = 200, description = "`{channel_id, epoch, welcome}`", body = Object),
        (status = 404, description = "welcome_not_found, channel_not_found", body = ErrorSchema)))]
fn welcome() {}

/// Sends an E2EE envelope: `{client_message_id, epoch, ciphertext, content_type, metadata?,
/// refers_to?}`. A retried `client_message_id` answers 200 with the original.
#[utoipa::path(post, path = "/v1/channels/{channel_id}/messages", tag = "chat",
    params(("channel_id" = String, Path, description = "channel id")), request_body = Object,
    responses((status = 201, description = "the stored message", body = Object),
        (status = 200, description = "the original message (idempotent retry)", body = Object),
        (status = 400, description = "invalid_request", body = ErrorSchema),
        (status = 404, description = "channel_not_found", body = ErrorSchema),
        (status = 409, description = "stale epoch or not a member at this epoch", body = ErrorSchema),
        (status = 413, description = "payload_too_large", body = ErrorSchema)))]
fn send_message() {}

/// History visible to the caller's device (epochs it was a member of), cursor-paginated.
#[utoipa::path(get, path = "/v1/channels/{channel_id}/history", tag = "chat",
    params(("channel_id" = String, Path, description = "channel id"),
        ("cursor" = Option<String>, Query, description = "from a previous page's next_cursor"),
        ("limit" = Option<i64>, Query, description = "page size"),
        ("direction" = Option<String>, Query, description = "`backward` (default) or `forward`")),
    responses((status = 200, description = "`{messages, next_cursor, has_more}`", body = Object),
        (status = 400, description = "invalid_request", body = ErrorSchema),
        (status = 404, description = "channel_not_found", body = ErrorSchema)))]
fn history() {}

/// The realtime WebSocket: events for the caller's channels; `last_event_id` resumes.
#[utoipa::path(get, path = "/v1/realtime", tag = "chat",
    params(("last_event_id" = Option<i64>, Query, description = "resume after this event")),
    responses((status = 101, description = "switching protocols to the realtime WebSocket"),
        (status = 400, description = "websocket_required, invalid_request", body = ErrorSchema)))]
fn realtime() {}
