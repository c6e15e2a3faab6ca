//! HTTP routes of the edge: health, metrics, capabilities, development tokens, join tickets and
//! the demo web client. Control's routes are mounted beside them under the same auth middleware.

mod capabilities;
mod dev_token;
mod health;
mod join_ticket;
mod web;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use control::ApiError;

use crate::auth::require_caller;
use crate::rate_limit;
use crate::state::AppState;
use crate::ws;

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let authed = Router::new()
        .route(
            "/v1/rtc/channels/{channel_id}/join-ticket",
            post(join_ticket::issue),
        )
        .with_state(state.clone())
        .merge(state.control.router())
        .layer(from_fn_with_state(state.clone(), rate_limit::enforce))
        .layer(from_fn_with_state(state.clone(), require_caller));
    let public = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/v1/client/capabilities", get(capabilities::capabilities))
        .route("/v1/dev/token", post(dev_token::issue))
        .route("/v1/rtc/signaling", get(ws::upgrade))
        .route("/", get(web::index))
        .route("/app.js", get(web::script))
        .route("/style.css", get(web::style))
        .with_state(state.clone())
        // `/v1/openapi.json` and avatar images (an `<img>` cannot send a token).
        .merge(state.control.public_router());
    public
        .merge(authed)
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .layer(DefaultBodyLimit::max(state.config.http.max_body_bytes))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}
