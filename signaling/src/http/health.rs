//! Liveness, readiness and metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use control::ApiError;
use control::http::edge::{Health, Ready};
use control::http::openapi::ErrorSchema;

use crate::state::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", security(()),
    responses((status = 200, description = "alive", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: the database answers and the media plane runs.
#[utoipa::path(get, path = "/readyz", tag = "ops", security(()),
    responses((status = 200, description = "ready", body = Ready),
        (status = 503, description = "not_ready: the database is unavailable", body = ErrorSchema)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Ready>, ApiError> {
    state.control.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness: database unavailable");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the database is unavailable",
        )
    })?;
    Ok(Json(Ready {
        status: "ready".into(),
        media_ports: state.sfu.local_addrs().iter().map(|a| a.port()).collect(),
    }))
}

/// Prometheus metrics (text exposition format 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "ops", security(()),
    responses((status = 200, description = "metrics", content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut body = state.metrics.render(&state.sockets.stats);
    crate::resource_metrics::render(&mut body, &crate::resource_metrics::gauges(&state));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
