//! `GET /v1/realtime`: the WebSocket adapter around [`crate::realtime::run_session`].

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::{
    Message as WsMessage, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{SinkExt, StreamExt, future};
use serde::Deserialize;

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
#[derive(Debug, Deserialize)]
pub(crate) struct RealtimeParams {
    /// Resume after this event id.
    #[serde(default)]
    last_event_id: Option<i64>,
}

/// `GET /v1/realtime?last_event_id=N`: upgrades to the realtime WebSocket (400
/// `websocket_required` for a plain request).
pub(crate) async fn realtime(
    State(control): State<Control>,
    caller: Caller,
    params: Result<Query<RealtimeParams>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|e| {
        ApiError::invalid_request("invalid query")
            .with_details(serde_json::json!({ "reason": e.body_text() }))
    })?;
    let upgrade = upgrade.map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "websocket_required",
            "this route needs a WebSocket upgrade",
        )
        .with_details(serde_json::json!({ "reason": e.body_text() }))
    })?;
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
