//! `GET /v1/realtime`: the WebSocket adapter around [`crate::realtime::run_session`].

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::{
    Message as WsMessage, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{SinkExt, StreamExt, future};
use serde::Deserialize;
use utoipa::IntoParams;

use super::openapi::ErrorSchema;
use super::{ApiError, Caller};
use crate::Control;
use crate::epochs::DeviceRef;
use crate::realtime::{ClientInput, run_session};

/// Largest client frame.
const MAX_FRAME_BYTES: usize = 64 * 1024;

/// The routes of this file (state applied by the caller).
pub(crate) fn routes() -> Router<Control> {
    Router::new().route("/v1/realtime", get(realtime))
}

/// Query of `GET /v1/realtime`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RealtimeParams {
    /// Resume after this event id (the `id` of the last event processed).
    #[serde(default)]
    last_event_id: Option<i64>,
}

/// The realtime WebSocket: events for the caller's device, in order; `last_event_id` resumes.
/// Browsers, which cannot set headers on an upgrade, pass the token as `?access_token=`.
#[utoipa::path(get, path = "/v1/realtime", tag = "chat",
    params(RealtimeParams,
        ("Connection" = String, Header, description = "`Upgrade`", pattern = "^[Uu][Pp][Gg][Rr][Aa][Dd][Ee]$"),
        ("Upgrade" = String, Header, description = "`websocket`", pattern = "^[Ww][Ee][Bb][Ss][Oo][Cc][Kk][Ee][Tt]$"),
        ("Sec-WebSocket-Version" = String, Header, description = "`13`", pattern = "^13$"),
        ("Sec-WebSocket-Key" = String, Header, description = "a 16-byte nonce in base64", pattern = "^[A-Za-z0-9+/]{21}[AQgw]==$")),
    responses((status = 101, description = "switching protocols to the realtime WebSocket"),
        (status = 400, description = "websocket_required, invalid_request", body = ErrorSchema)))]
pub(crate) async fn realtime(
    State(control): State<Control>,
    caller: Caller,
    params: Result<Query<RealtimeParams>, QueryRejection>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|e| {
        ApiError::invalid_request("invalid query")
            .with_details(serde_json::json!({ "reason": e.body_text() }))
    })?;
    let upgrade = super::websocket_upgrade(upgrade, &headers)?;
    let device = DeviceRef::new(&caller.user_id, &caller.device_id);
    let resume = params.last_event_id;
    Ok(upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| async move {
            let (sink, stream) = socket.split();
            let sink = Box::pin(sink.with(|text: String| {
                future::ready(Ok::<_, axum::Error>(WsMessage::Text(text.into())))
            }));
            let stream = Box::pin(
                stream
                    .take_while(|m| {
                        future::ready(matches!(m, Ok(m) if !matches!(m, WsMessage::Close(_))))
                    })
                    .filter_map(|m| {
                        future::ready(match m {
                            Ok(WsMessage::Text(text)) => Some(ClientInput::Text(text.to_string())),
                            Ok(WsMessage::Binary(_)) => Some(ClientInput::Binary),
                            _ => None,
                        })
                    }),
            );
            run_session(control, device, resume, sink, stream).await;
        })
        .into_response())
}
