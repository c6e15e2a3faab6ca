//! OpenAPI entries for signaling's routes (health, metrics, capabilities, dev tokens, join
//! tickets, the signaling WebSocket). Each is an empty function that only holds its
//! `#[utoipa::path]`; the bodies are the types of [`crate::http::edge`], which signaling's
//! handlers use.
#![allow(dead_code)]

use utoipa::OpenApi;

use super::ErrorSchema;
use crate::http::edge::{
    Capabilities, DevToken, DevTokenRequest, Health, JoinTicket, JoinTicketRequest, Ready,
};

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

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", security(()),
    responses((status = 200, description = "alive", body = Health)))]
fn healthz() {}

/// Readiness: the database answers and the media plane runs.
#[utoipa::path(get, path = "/readyz", tag = "ops", security(()),
    responses((status = 200, description = "ready", body = Ready),
        (status = 503, description = "not_ready: the database is unavailable", body = ErrorSchema)))]
fn readyz() {}

/// Prometheus metrics (text exposition format 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "ops", security(()),
    responses((status = 200, description = "metrics", content_type = "text/plain", body = String)))]
fn metrics() {}

/// What this server supports (protocol version, codecs, limits).
#[utoipa::path(get, path = "/v1/client/capabilities", tag = "ops", security(()),
    responses((status = 200, description = "capabilities", body = Capabilities)))]
fn capabilities() {}

/// Development mode only: mints an access token for any user.
#[utoipa::path(post, path = "/v1/dev/token", tag = "ops", security(()), request_body = DevTokenRequest,
    responses((status = 200, description = "the token", body = DevToken),
        (status = 404, description = "dev_mode_disabled", body = ErrorSchema)))]
fn dev_token() {}

/// A single-use join ticket for a voice or video channel. The body is optional.
#[utoipa::path(post, path = "/v1/rtc/channels/{channel_id}/join-ticket", tag = "rtc",
    params(("channel_id" = String, Path, description = "channel id", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body(content = JoinTicketRequest, content_type = "application/json"),
    responses((status = 200, description = "the ticket, its expiry, grants and signaling URL", body = JoinTicket),
        (status = 403, description = "banned: banned or timed out in the channel's server", body = ErrorSchema),
        (status = 404, description = "channel_not_found: unknown, or not visible to the caller", body = ErrorSchema),
        (status = 409, description = "not_an_rtc_channel", body = ErrorSchema)))]
fn join_ticket() {}

/// The signaling WebSocket (protocol v1, docs/protocol.md); the join ticket in the first frame
/// authenticates it.
#[utoipa::path(get, path = "/v1/rtc/signaling", tag = "rtc", security(()),
    params(
        ("Connection" = String, Header, description = "`Upgrade`", pattern = "^[Uu][Pp][Gg][Rr][Aa][Dd][Ee]$"),
        ("Upgrade" = String, Header, description = "`websocket`", pattern = "^[Ww][Ee][Bb][Ss][Oo][Cc][Kk][Ee][Tt]$"),
        ("Sec-WebSocket-Version" = String, Header, description = "`13`", pattern = "^13$"),
        ("Sec-WebSocket-Key" = String, Header, description = "a 16-byte nonce in base64", pattern = "^[A-Za-z0-9+/]{21}[AQgw]==$")),
    responses((status = 101, description = "switching protocols to the signaling WebSocket"),
        (status = 400, description = "websocket_required", body = ErrorSchema)))]
fn signaling() {}
