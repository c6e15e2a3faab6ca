//! Access tokens (JWT): verification for every `/v1` route, and minting of development tokens.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use control::{ApiError, Caller};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use openchat_protocol::{DeviceId, UserId};
use serde::{Deserialize, Serialize};

use crate::config::{AuthConfig, TokenAlgorithm};
use crate::error::ServerError;
use crate::keys::Keys;
use crate::state::AppState;

/// Claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    /// User id.
    pub sub: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Expiry (seconds since the epoch).
    pub exp: u64,
    /// Issued at.
    #[serde(default)]
    pub iat: u64,
    /// Device id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub did: Option<String>,
}

/// Why a token was refused, with its stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No bearer token.
    #[error("an access token is required (Authorization: Bearer ...)")]
    Missing,
    /// Forged, malformed, wrong issuer/audience/algorithm, bad subject.
    #[error("the access token is not valid")]
    Invalid,
    /// Past its expiry.
    #[error("the access token has expired")]
    Expired,
}

impl TokenError {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            TokenError::Missing => "missing_token",
            TokenError::Invalid => "invalid_token",
            TokenError::Expired => "token_expired",
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, e.code(), e.to_string())
    }
}

/// Verifies (and, with HS256, mints) access tokens.
#[derive(Clone)]
pub struct AccessTokens {
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
}

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl AccessTokens {
    /// Builds the verifier from configuration and keys.
    pub fn new(config: &AuthConfig, keys: &Keys) -> Result<AccessTokens, ServerError> {
        let (algorithm, decoding, encoding) = match config.algorithm {
            TokenAlgorithm::HS256 => {
                let secret = keys
                    .access_secret
                    .as_ref()
                    .ok_or(ServerError::MissingSetting("HS256 needs auth.secret"))?;
                let bytes = secret.expose().as_bytes();
                (
                    Algorithm::HS256,
                    DecodingKey::from_secret(bytes),
                    Some(EncodingKey::from_secret(bytes)),
                )
            }
            TokenAlgorithm::EdDSA | TokenAlgorithm::RS256 => {
                let pem = keys
                    .access_public_pem
                    .as_ref()
                    .ok_or(ServerError::MissingSetting(
                        "auth.public_key_file is required",
                    ))?;
                if config.algorithm == TokenAlgorithm::EdDSA {
                    let key = DecodingKey::from_ed_pem(pem).map_err(ServerError::AccessKey)?;
                    (Algorithm::EdDSA, key, None)
                } else {
                    let key = DecodingKey::from_rsa_pem(pem).map_err(ServerError::AccessKey)?;
                    (Algorithm::RS256, key, None)
                }
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[config.issuer.as_str()]);
        validation.set_audience(&[config.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.leeway = 5;
        Ok(AccessTokens {
            decoding,
            encoding,
            validation,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
        })
    }

    /// Verifies a token and returns the caller it names.
    pub fn verify(&self, token: &str) -> Result<Caller, TokenError> {
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        let claims = data.claims;
        let user_id = UserId::parse(claims.sub).map_err(|_| TokenError::Invalid)?;
        let device_id = DeviceId::parse(claims.did.unwrap_or_else(|| "default".into()))
            .map_err(|_| TokenError::Invalid)?;
        Ok(Caller { user_id, device_id })
    }

    /// Mints a token (HS256 only; an identity provider mints the others).
    pub fn mint(
        &self,
        user_id: &UserId,
        device_id: Option<&DeviceId>,
        ttl_secs: u64,
    ) -> Result<String, ServerError> {
        let key = self.encoding.as_ref().ok_or(ServerError::CannotMint)?;
        let now = unix_now();
        let claims = AccessClaims {
            sub: user_id.to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: now + ttl_secs,
            iat: now,
            did: device_id.map(DeviceId::to_string),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, key)
            .map_err(ServerError::Signing)
    }
}

/// The `access_token` query parameter of a WebSocket upgrade (browsers cannot set headers there).
fn websocket_query_token(request: &Request) -> Option<&str> {
    let upgrade = request.headers().get(axum::http::header::UPGRADE)?;
    if !upgrade.as_bytes().eq_ignore_ascii_case(b"websocket") {
        return None;
    }
    request
        .uri()
        .query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("access_token="))
        .filter(|t| !t.is_empty())
}

/// Extracts the bearer token of a request: the `Authorization` header, or for WebSocket upgrades
/// the `access_token` query parameter.
pub fn bearer(request: &Request) -> Result<&str, TokenError> {
    let Some(header) = request.headers().get(axum::http::header::AUTHORIZATION) else {
        return websocket_query_token(request).ok_or(TokenError::Missing);
    };
    let value = header.to_str().map_err(|_| TokenError::Invalid)?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or(TokenError::Missing)?;
    Ok(token.trim())
}

/// Middleware: requires a valid access token from a device that may act (control's
/// [`authorize_device`](control::Control::authorize_device): a revoked device gets 403
/// `device_revoked` on every route), and inserts the [`Caller`].
pub async fn require_caller(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let caller = match bearer(&request).and_then(|t| state.tokens.verify(t)) {
        Ok(c) => c,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if let Err(e) = state
        .control
        .authorize_device(&caller.user_id, &caller.device_id)
        .await
    {
        if e.code() == "device_revoked" {
            state.metrics.auth_refused("device_revoked");
        }
        return ApiError::from(e).into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}
