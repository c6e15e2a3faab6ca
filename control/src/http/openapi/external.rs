//! OpenAPI entries for signaling's routes (health, metrics, capabilities, dev tokens, join
//! tickets, the signaling WebSocket). Each is an empty function that only holds its
//! `#[utoipa::path]`.
#![allow(dead_code)]

use utoipa::OpenApi;

use super::ErrorSchema;

#[derive(OpenApi)]
#[openapi(paths(
    healthz,
    readyz,
    metrics,
    capabilities,
    dev_token,
    join_ticket,
    signaling,
))]
pub(super) struct External;

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "ops", security(()),
    responses((status = 200, description = "alive")))]
fn healthz() {}

/// Readiness (the database answers).
#[utoipa::path(get, path = "/readyz", tag = "ops", security(()),
    responses((status = 200, description = "ready"), (status = 503, description = "not ready")))]
fn readyz() {}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "ops", security(()),
    responses((status = 200, description = "metrics", content_type = "text/plain")))]
fn metrics() {}

/// What this server supports (protocol version, codecs, limits).
#[utoipa::path(get, path = "/v1/client/capabilities", tag = "ops", security(()),
    responses((status = 200, description = "capabilities", body = Object)))]
fn capabilities() {}

/// Development mode only: mints an access token. Body `{"user_id", "device_id"?}`.
#[utoipa::path(post, path = "/v1/dev/token", tag = "ops", security(()), request_body = Object,
    responses((status = 200, description = "`{access_token, token_type, expires_in, user_id}`", body = Object),
        (status = 404, description = "dev_mode_disabled", body = ErrorSchema)))]
fn dev_token() {}

/// A single-use join ticket for a voice or video channel. Body `{"server_id"?}`.
#[utoipa::path(post, path = "/v1/rtc/channels/{channel_id}/join-ticket", tag = "rtc",
    params(("channel_id" = String, Path, description = "channel id")), request_body = Object,
    responses((status = 200, description = "the ticket, its expiry, grants and signaling URL", body = Object),
        (status = 403, description = "device_revoked, banned", body = ErrorSchema),
        (status = 404, description = "channel_not_found", body = ErrorSchema),
        (status = 409, description = "not_an_rtc_channel", body = ErrorSchema)))]
fn join_ticket() {}

/// The signaling WebSocket (protocol v1, docs/protocol.md); the join ticket authenticates it.
#[utoipa::path(get, path = "/v1/rtc/signaling", tag = "rtc", security(()),
    responses((status = 101, description = "switching protocols to the signaling WebSocket")))]
fn signaling() {}
