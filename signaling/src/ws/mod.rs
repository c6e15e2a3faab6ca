//! The signaling WebSocket (`GET /v1/rtc/signaling`), protocol v1.

pub mod protocol;
pub mod session;

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;

use crate::state::AppState;

/// Upgrades and runs a session. The ticket in the first frame authenticates it.
pub async fn upgrade(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(protocol::MAX_FRAME_BYTES + 1024)
        .max_frame_size(protocol::MAX_FRAME_BYTES + 1024)
        .on_upgrade(move |socket| async move {
            let (sink, stream) = futures_util::StreamExt::split(socket);
            session::run(state, sink, stream).await;
        })
}
