//! HTTP routes of the edge: health, metrics, capabilities, development tokens, join tickets and
//! the demo web client. Control's routes are mounted beside them under the same auth middleware.

mod capabilities;
mod dev_token;
mod health;
mod join_ticket;
mod web;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::{Extension, Router};
use control::ApiError;
use control::http::openapi::ApiDocument;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::require_caller;
use crate::rate_limit;
use crate::state::AppState;
use crate::ws;

/// The whole HTTP application. Every API route is registered with its OpenAPI entry; the
/// document they add up to is served at `/v1/openapi.json`.
pub fn app(state: AppState) -> Router {
    let authed = OpenApiRouter::new()
        .routes(join_ticket::route())
        .with_state(state.clone())
        .merge(state.control.api_routes())
        .layer(from_fn_with_state(state.clone(), rate_limit::enforce))
        .layer(from_fn_with_state(state.clone(), require_caller));
    let public = OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .routes(routes!(capabilities::capabilities))
        .routes(routes!(dev_token::issue))
        .routes(routes!(ws::upgrade))
        .with_state(state.clone())
        // `/v1/openapi.json` and avatar images (an `<img>` cannot send a token).
        .merge(state.control.public_api_routes());
    let (api, collected) = public.merge(authed).split_for_parts();
    api
        // The demo web client: static files, not API.
        .route("/", get(web::index))
        .route("/app.js", get(web::script))
        .route("/style.css", get(web::style))
        .layer(Extension(ApiDocument::new(collected)))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .layer(DefaultBodyLimit::max(state.config.http.max_body_bytes))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}
