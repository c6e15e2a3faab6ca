//! `ApiError`: one error type for HTTP answers, with the body
//! `{"error":{"code":"...","message":"...","details":{}}}`.

use std::fmt;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{AdmissionError, ControlError, ServersError};

/// The JSON body of every error answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Inside [`ErrorBody`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `server_not_found`.
    pub code: String,
    /// Human-readable explanation (not stable).
    pub message: String,
    /// Structured extra information; an object, empty when there is none.
    pub details: Value,
}

impl ErrorBody {
    /// A body with empty details.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
                details: Value::Object(Map::new()),
            },
        }
    }
}

/// An HTTP error answer: status, stable code, message and details.
///
/// 5xx answers never reveal their cause: the body says `internal` and the cause is logged once,
/// when the response is produced.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Value,
    cause: Option<String>,
}

impl ApiError {
    /// An error with empty details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Value::Object(Map::new()),
            cause: None,
        }
    }

    /// Replaces the details; `details` should serialize to a JSON object.
    pub fn with_details(mut self, details: impl Serialize) -> ApiError {
        match serde_json::to_value(details) {
            Ok(value @ Value::Object(_)) => self.details = value,
            Ok(other) => self.details = serde_json::json!({ "value": other }),
            Err(e) => tracing::warn!(error = %e, "cannot serialize error details"),
        }
        self
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// 401 `missing_token`: no authenticated caller.
    pub fn missing_token() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing_token",
            "authentication required",
        )
    }

    /// 500 `internal`; `cause` is logged, never sent.
    pub fn internal(cause: impl fmt::Display) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        );
        e.cause = Some(cause.to_string());
        e
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The body that will be sent.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message.clone(),
                details: self.details.clone(),
            },
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            let cause = self.cause.as_deref().unwrap_or("unspecified");
            tracing::error!(code = self.code, %cause, "request failed");
        }
        (self.status, Json(self.body())).into_response()
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> ApiError {
        ApiError::internal(e)
    }
}

impl From<ServersError> for ApiError {
    fn from(e: ServersError) -> ApiError {
        let code = e.code();
        match e {
            ServersError::Invalid(fields) => ApiError::invalid_request("invalid input")
                .with_details(serde_json::json!({ "fields": fields })),
            ServersError::ServerNotFound => {
                ApiError::new(StatusCode::NOT_FOUND, code, "server not found")
            }
            ServersError::Forbidden => ApiError::new(
                StatusCode::FORBIDDEN,
                code,
                "your role in this server does not allow this",
            ),
            ServersError::IdTaken => {
                ApiError::new(StatusCode::CONFLICT, code, "this id is already taken")
            }
            ServersError::AlreadyAMember => {
                ApiError::new(StatusCode::CONFLICT, code, "the user is already a member")
            }
            ServersError::Storage(e) => ApiError::internal(e),
        }
    }
}

/// HTTP mapping of admission refusals: `channel_not_found` 404 (a channel the caller may not
/// see, `not_a_member` included, answers exactly like a missing one), `banned` and
/// `device_revoked` 403, `not_an_rtc_channel` 409, storage failures 500 `internal`.
impl From<AdmissionError> for ApiError {
    fn from(e: AdmissionError) -> ApiError {
        let e = match e {
            AdmissionError::NotAMember => AdmissionError::ChannelNotFound,
            e => e,
        };
        let code = e.code();
        let status = match e {
            AdmissionError::ChannelNotFound | AdmissionError::NotAMember => StatusCode::NOT_FOUND,
            AdmissionError::Banned { until } | AdmissionError::TimedOut { until } => {
                return ApiError::new(StatusCode::FORBIDDEN, code, e.to_string())
                    .with_details(serde_json::json!({ "until": until }));
            }
            AdmissionError::DeviceRevoked => StatusCode::FORBIDDEN,
            AdmissionError::NotAnRtcChannel => StatusCode::CONFLICT,
            AdmissionError::Storage(e) => return ApiError::internal(e),
        };
        ApiError::new(status, code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_shape() {
        let body = serde_json::to_value(ApiError::missing_token().body()).expect("json");
        assert_eq!(
            body,
            serde_json::json!({"error": {"code": "missing_token", "message": "authentication required", "details": {}}})
        );
    }

    #[test]
    fn internal_hides_cause() {
        let e = ApiError::internal("connection refused to db at 10.0.0.1");
        let body = serde_json::to_string(&e.body()).expect("json");
        assert!(!body.contains("10.0.0.1"));
        assert_eq!(e.code(), "internal");
    }
}
