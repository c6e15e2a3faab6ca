//! The signaling WebSocket (`GET /v1/rtc/signaling`), protocol v1.

pub mod protocol;
pub mod session;

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;

use crate::state::AppState;

/// Initial read buffer of a session. tungstenite's default (128 KiB) is allocated and zero-filled
/// for every connection; signaling frames are a few hundred bytes (SDP a few KiB per track in the
/// room) and the buffer grows on demand up to the frame limit ([`protocol::max_frame_bytes`]).
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Upgrades and runs a session. The ticket in the first frame authenticates it.
pub async fn upgrade(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    let max_frame = protocol::max_frame_bytes(state.config.rtc.max_participants_per_room);
    ws.read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_message_size(max_frame)
        .max_frame_size(max_frame)
        .on_upgrade(move |socket| async move {
            let (sink, stream) = futures_util::StreamExt::split(socket);
            session::run(state, sink, stream).await;
        })
}
