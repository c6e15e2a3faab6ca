//! `POST /v1/dev/token`: mints an access token for any user, in development mode only.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use control::ApiError;
use control::http::edge::{DevToken, DevTokenRequest};
use control::http::openapi::ErrorSchema;
use control::http::{ApiBody, json_object};
use openchat_protocol::{Alphabet, DeviceId, UserId};

use crate::config::Mode;
use crate::state::AppState;

/// Development mode only: mints an access token for any user.
#[utoipa::path(post, path = "/v1/dev/token", tag = "ops", operation_id = "dev_token", security(()), request_body = DevTokenRequest,
    responses((status = 200, description = "the token", body = DevToken),
        (status = 404, description = "dev_mode_disabled", body = ErrorSchema)))]
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
    let refused = |field: &str| {
        ApiError::invalid_request(format!(
            "{field} must match {}",
            Alphabet::PRINCIPAL.pattern()
        ))
    };
    let user_id = UserId::parse(request.user_id).map_err(|_| refused("user_id"))?;
    let device_id = match request.device_id {
        Some(device) => Some(DeviceId::parse(device).map_err(|_| refused("device_id"))?),
        None => None,
    };
    let ttl = state.config.auth.dev_token_ttl_secs;
    let token = state
        .tokens
        .mint(&user_id, device_id.as_ref(), ttl)
        .map_err(ApiError::internal)?;
    Ok(Json(DevToken {
        access_token: token,
        token_type: "Bearer".into(),
        expires_in: ttl,
        user_id: user_id.into_string(),
    }))
}
