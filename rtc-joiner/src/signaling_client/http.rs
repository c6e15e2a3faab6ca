//! The HTTP part of the protocol: development tokens and join tickets.

use crate::JoinerError;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `POST /v1/dev/token` response.
#[derive(Debug, Clone, Deserialize)]
pub struct DevToken {
    /// The access token (never logged).
    pub access_token: String,
    /// The user it was minted for.
    #[serde(default)]
    pub user_id: String,
    /// Lifetime in seconds.
    #[serde(default)]
    pub expires_in: u64,
}

/// `POST /v1/rtc/channels/{id}/join-ticket` response.
#[derive(Debug, Clone, Deserialize)]
pub struct JoinTicket {
    /// The single-use ticket (never logged).
    pub ticket: String,
    /// Expiry, seconds since the epoch.
    #[serde(default)]
    pub expires_at: u64,
    /// Path (or URL) of the signaling WebSocket.
    pub signaling_url: String,
    /// Channel id.
    pub channel_id: String,
    /// Server id.
    pub server_id: String,
    /// Room kind.
    #[serde(default)]
    pub room_kind: String,
    /// Which sources this ticket may publish.
    #[serde(default)]
    pub grants: BTreeMap<String, bool>,
}

/// The uniform error body (`docs/protocol.md` §2).
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Serialize)]
struct DevTokenRequest<'a> {
    user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_id: Option<&'a str>,
}

#[derive(Serialize)]
struct JoinTicketRequest<'a> {
    server_id: &'a str,
}

/// A small client for the backend's HTTP API.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: Url,
}

impl ApiClient {
    /// A client for the backend at `base` (e.g. `http://localhost:8080`).
    pub fn new(base: Url) -> Result<Self, JoinerError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("rtc-joiner/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(15))
            .build()?;
        Ok(Self { http, base })
    }

    /// The backend base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str) -> Result<Url, JoinerError> {
        self.base
            .join(path)
            .map_err(|err| JoinerError::Config(format!("bad URL path {path}: {err}")))
    }

    /// Mints a development access token (`POST /v1/dev/token`).
    pub async fn dev_token(
        &self,
        user_id: &str,
        device_id: Option<&str>,
    ) -> Result<DevToken, JoinerError> {
        let response = self
            .http
            .post(self.url("/v1/dev/token")?)
            .json(&DevTokenRequest { user_id, device_id })
            .send()
            .await?;
        parse_response(response).await
    }

    /// Asks for a join ticket for `channel_id` in `server_id`.
    pub async fn join_ticket(
        &self,
        access_token: &str,
        channel_id: &str,
        server_id: &str,
    ) -> Result<JoinTicket, JoinerError> {
        let path = format!(
            "/v1/rtc/channels/{}/join-ticket",
            encode_segment(channel_id)
        );
        let response = self
            .http
            .post(self.url(&path)?)
            .bearer_auth(access_token)
            .json(&JoinTicketRequest { server_id })
            .send()
            .await?;
        parse_response(response).await
    }

    /// The WebSocket URL for a ticket's `signaling_url`: resolved against the backend URL,
    /// with `http` -> `ws` and `https` -> `wss`.
    pub fn signaling_url(&self, signaling_url: &str) -> Result<Url, JoinerError> {
        websocket_url(&self.base, signaling_url)
    }
}

/// Resolves `signaling_url` against `base` and switches the scheme to `ws`/`wss`.
pub fn websocket_url(base: &Url, signaling_url: &str) -> Result<Url, JoinerError> {
    let mut url = base.join(signaling_url).map_err(|err| {
        JoinerError::Protocol(format!("bad signaling_url {signaling_url}: {err}"))
    })?;
    let scheme = match url.scheme() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        other => {
            return Err(JoinerError::Protocol(format!(
                "signaling_url has unsupported scheme {other}"
            )));
        }
    };
    url.set_scheme(scheme)
        .map_err(|()| JoinerError::Protocol(format!("cannot use {scheme} for {url}")))?;
    Ok(url)
}

/// Percent-encodes one path segment (ids are `[A-Za-z0-9_.-]` in practice).
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

async fn parse_response<T: for<'de> Deserialize<'de>>(
    response: reqwest::Response,
) -> Result<T, JoinerError> {
    let status = response.status();
    let body = response.bytes().await?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|err| {
            JoinerError::Protocol(format!("unexpected {status} response body: {err}"))
        });
    }
    Err(api_error(status.as_u16(), &body))
}

/// Turns an error response into [`JoinerError::Api`], keeping the server's `code`.
pub fn api_error(status: u16, body: &[u8]) -> JoinerError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { error }) => JoinerError::Api {
            status,
            code: error.code,
            message: error.message,
        },
        Err(_) => JoinerError::Api {
            status,
            code: format!("http_{status}"),
            message: String::from_utf8_lossy(body).chars().take(200).collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_keeps_the_code() {
        let err = api_error(
            403,
            br#"{"error": {"code": "not_a_member", "message": "not a member of srv_harbor", "details": {}}}"#,
        );
        assert_eq!(err.code(), "not_a_member");
        assert_eq!(err.to_string(), "not_a_member: not a member of srv_harbor");
    }

    #[test]
    fn non_json_error_body_gets_an_http_code() {
        let err = api_error(502, b"Bad Gateway");
        assert_eq!(err.code(), "http_502");
    }

    #[test]
    fn websocket_url_switches_scheme() {
        let base = Url::parse("http://localhost:8080").expect("url");
        assert_eq!(
            websocket_url(&base, "/v1/rtc/signaling")
                .expect("ws")
                .as_str(),
            "ws://localhost:8080/v1/rtc/signaling"
        );
        let tls = Url::parse("https://chat.example.com/").expect("url");
        assert_eq!(
            websocket_url(&tls, "/v1/rtc/signaling")
                .expect("wss")
                .as_str(),
            "wss://chat.example.com/v1/rtc/signaling"
        );
        assert_eq!(
            websocket_url(&base, "ws://edge-2:9000/v1/rtc/signaling")
                .expect("absolute")
                .as_str(),
            "ws://edge-2:9000/v1/rtc/signaling"
        );
    }

    #[test]
    fn join_ticket_example_parses() {
        let ticket: JoinTicket = serde_json::from_str(
            r#"{
              "ticket": "<jwt>",
              "expires_at": 1790000000,
              "signaling_url": "/v1/rtc/signaling",
              "channel_id": "vc_general",
              "server_id": "srv_harbor",
              "room_kind": "voice",
              "grants": {"microphone": true, "camera": false, "screenshare": false, "screenshare_audio": false}
            }"#,
        )
        .expect("ticket");
        assert_eq!(ticket.signaling_url, "/v1/rtc/signaling");
        assert_eq!(ticket.grants.get("microphone"), Some(&true));
        let token: DevToken = serde_json::from_str(
            r#"{"access_token": "...", "token_type": "Bearer", "expires_in": 86400, "user_id": "alice"}"#,
        )
        .expect("token");
        assert_eq!(token.user_id, "alice");
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode_segment("vc_general"), "vc_general");
        assert_eq!(encode_segment("a/b c"), "a%2Fb%20c");
    }
}
