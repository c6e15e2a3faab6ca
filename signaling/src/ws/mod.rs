//! The signaling WebSocket (`GET /v1/rtc/signaling`), protocol v1.

pub mod protocol;
pub mod session;

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// Initial read buffer of a session. tungstenite's default (128 KiB) is allocated and zero-filled
/// for every connection; signaling frames are a few hundred bytes (SDP a few KiB) and the buffer
/// grows on demand up to the frame limit.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Upgrades and runs a session. The ticket in the first frame authenticates it. A request that
/// is not a WebSocket handshake gets 400 `websocket_required`.
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ws = match control::http::websocket_upgrade(ws, &headers) {
        Ok(ws) => ws,
        Err(e) => return e.into_response(),
    };
    ws.read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_message_size(protocol::MAX_FRAME_BYTES + 1024)
        .max_frame_size(protocol::MAX_FRAME_BYTES + 1024)
        .on_upgrade(move |socket| async move {
            let (sink, stream) = futures_util::StreamExt::split(socket);
            session::run(state, sink, stream).await;
        })
}
