//! `POST /v1/dev/token`: mints an access token for any user, in development mode only.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use control::ApiError;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::valid_subject;
use crate::config::Mode;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DevTokenRequest {
    user_id: String,
    #[serde(default)]
    device_id: Option<String>,
}

/// Mints a development token.
pub async fn issue(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    if state.config.mode != Mode::Development {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "dev_mode_disabled",
            "development tokens are only available in development mode",
        ));
    }
    let request: DevTokenRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid_request(format!("body: {e}")))?;
    if !valid_subject(&request.user_id) {
        return Err(ApiError::invalid_request(
            "user_id must be 1-64 chars of [A-Za-z0-9_.-]",
        ));
    }
    if let Some(d) = &request.device_id
        && !valid_subject(d)
    {
        return Err(ApiError::invalid_request(
            "device_id must be 1-64 chars of [A-Za-z0-9_.-]",
        ));
    }
    let ttl = state.config.auth.dev_token_ttl_secs;
    let token = state
        .tokens
        .mint(&request.user_id, request.device_id.as_deref(), ttl)
        .map_err(ApiError::internal)?;
    Ok(Json(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": ttl,
        "user_id": request.user_id,
    })))
}
