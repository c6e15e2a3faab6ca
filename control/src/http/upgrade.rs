//! WebSocket upgrades of `/v1/realtime` and `/v1/rtc/signaling`: every refusal is a 400
//! `websocket_required` in the shared error shape (never axum's plain-text rejections), and the
//! handshake headers are checked as the OpenAPI document states them.

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::{HeaderMap, StatusCode};

use super::ApiError;

/// `Sec-WebSocket-Key`: a 16-byte nonce in base64 (RFC 6455 §4.1), 24 characters ending `==`.
pub const WEBSOCKET_KEY_PATTERN: &str = "^[A-Za-z0-9+/]{21}[AQgw]==$";

fn websocket_required(reason: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "websocket_required",
        "this route needs a WebSocket upgrade",
    )
    .with_details(serde_json::json!({ "reason": reason.into() }))
}

fn valid_key(key: &[u8]) -> bool {
    key.len() == 24
        && key[..21]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/'))
        && matches!(key[21], b'A' | b'Q' | b'g' | b'w')
        && &key[22..] == b"=="
}

/// The upgrade, or 400 `websocket_required` with the reason in `details.reason`.
pub fn websocket_upgrade(
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    headers: &HeaderMap,
) -> Result<WebSocketUpgrade, ApiError> {
    let upgrade = upgrade.map_err(|e| websocket_required(e.body_text()))?;
    let key = headers
        .get("sec-websocket-key")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !valid_key(key) {
        return Err(websocket_required(
            "Sec-WebSocket-Key must be a 16-byte nonce in base64",
        ));
    }
    Ok(upgrade)
}

#[cfg(test)]
mod tests {
    use super::valid_key;

    #[test]
    fn websocket_keys() {
        assert!(valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!valid_key(b"dGhlIHNhbXBsZSBub25jZR=="));
        assert!(!valid_key(b"dGhlIHNhbXBsZSBub25jZQ="));
        assert!(!valid_key(b""));
        assert!(!valid_key(b"dGhlIHNhbXBsZSBub25j!Q=="));
    }
}
