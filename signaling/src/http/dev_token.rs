//! `POST /v1/dev/token`: mints an access token for any user, in development mode only.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use control::ApiError;
use control::http::edge::{DevToken, DevTokenRequest};
use control::http::{ApiBody, json_object};

use crate::auth::valid_subject;
use crate::config::Mode;
use crate::state::AppState;

/// Mints a development token.
pub async fn issue(
    State(state): State<AppState>,
    ApiBody(body): ApiBody,
) -> Result<Json<DevToken>, ApiError> {
    if state.config.mode != Mode::Development {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "dev_mode_disabled",
            "development tokens are only available in development mode",
        ));
    }
    let request: DevTokenRequest = json_object(&body)?;
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
    Ok(Json(DevToken {
        access_token: token,
        token_type: "Bearer".into(),
        expires_in: ttl,
        user_id: request.user_id,
    }))
}
