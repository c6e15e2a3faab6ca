//! Room set-up for `--rooms K`: one throwaway server with K voice channels, and every load user
//! added as a member, through the public control-plane routes (`POST /v1/servers`,
//! `POST /v1/servers/{id}/channels`, `POST /v1/servers/{id}/members`).
//!
//! Needs development tokens and, for large runs, rate limits raised on the server
//! (`--set limits.user_rps=...`): the owner makes one request per member.

use crate::JoinerError;
use crate::signaling_client::ApiClient;
use crate::signaling_client::http::api_error;
use reqwest::Url;
use serde_json::{Value, json};

/// Where the joiners go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rooms {
    /// Server of every channel.
    pub server_id: String,
    /// One channel per room.
    pub channels: Vec<String>,
}

/// Creates the server, `rooms` voice channels and the memberships of `users`.
pub async fn create_rooms(
    backend: &Url,
    run_id: &str,
    rooms: usize,
    users: &[String],
) -> Result<Rooms, JoinerError> {
    let api = ApiClient::new(backend.clone())?;
    let owner = format!("{run_id}-owner");
    let token = api.dev_token(&owner, None).await?.access_token;
    let http = reqwest::Client::new();
    let post = |path: String, body: Value| {
        let http = http.clone();
        let token = token.clone();
        let url = backend.join(&path);
        async move {
            let url =
                url.map_err(|err| JoinerError::Config(format!("bad URL path {path}: {err}")))?;
            let response = http.post(url).bearer_auth(token).json(&body).send().await?;
            let status = response.status();
            let bytes = response.bytes().await?;
            if !status.is_success() {
                return Err(api_error(status.as_u16(), &bytes));
            }
            serde_json::from_slice::<Value>(&bytes)
                .map_err(|err| JoinerError::Protocol(format!("{path}: {err}")))
        }
    };
    let server_id = format!("{run_id}-srv");
    post(
        "/v1/servers".into(),
        json!({"id": server_id, "name": format!("load test {run_id}")}),
    )
    .await?;
    let mut channels = Vec::with_capacity(rooms);
    for i in 0..rooms {
        let id = format!("{run_id}-r{i}");
        post(
            format!("/v1/servers/{server_id}/channels"),
            json!({"id": id, "name": format!("room {i}"), "kind": "voice"}),
        )
        .await?;
        channels.push(id);
    }
    for user in users {
        post(
            format!("/v1/servers/{server_id}/members"),
            json!({"user_id": user}),
        )
        .await?;
    }
    Ok(Rooms {
        server_id,
        channels,
    })
}
