//! The signaling WebSocket (`GET /v1/rtc/signaling`), protocol v1.

pub mod protocol;
pub mod session;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use control::websocket::{GuardedSocket, LingerOnClose, SocketEnd, SocketKind};
use futures_util::StreamExt;

use crate::state::AppState;
use protocol::ServerMessage;

/// Initial read buffer of a session. tungstenite's default (128 KiB) is allocated and zero-filled
/// for every connection; signaling frames are a few hundred bytes (SDP a few KiB per track in the
/// room) and the buffer grows on demand up to the frame limit ([`protocol::max_frame_bytes`]).
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Upgrades and runs a session. The ticket in the first frame authenticates it. A request that
/// is not a WebSocket handshake gets 400 `websocket_required`. A frame over
/// [`protocol::max_frame_bytes`] (which fits the largest SDP of the largest room) ends the session
/// with close 1009; the process going away ends it with a `going_away` frame and close 1001; a
/// silent client with `idle_timeout` and 4000.
#[utoipa::path(get, path = "/v1/rtc/signaling", tag = "rtc", security(()), operation_id = "signaling",
    summary = "The signaling WebSocket (protocol v1, docs/protocol.md); the join ticket in the first frame\nauthenticates it.",
    params(
        ("Connection" = String, Header, description = "`Upgrade`", pattern = "^[Uu][Pp][Gg][Rr][Aa][Dd][Ee]$"),
        ("Upgrade" = String, Header, description = "`websocket`", pattern = "^[Ww][Ee][Bb][Ss][Oo][Cc][Kk][Ee][Tt]$"),
        ("Sec-WebSocket-Version" = String, Header, description = "`13`", pattern = "^13$"),
        ("Sec-WebSocket-Key" = String, Header, description = "a 16-byte nonce in base64", pattern = "^[A-Za-z0-9+/]{21}[AQgw]==$")),
    responses((status = 101, description = "switching protocols to the signaling WebSocket"),
        (status = 400, description = "websocket_required", body = control::http::openapi::ErrorSchema)))]
pub async fn upgrade(
    State(state): State<AppState>,
    linger: Option<Extension<LingerOnClose>>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ws = match control::http::websocket_upgrade(ws, &headers) {
        Ok(ws) => ws,
        Err(e) => return e.into_response(),
    };
    let policy = state.sockets.clone();
    let linger = linger.map(|Extension(l)| l);
    let max_frame = protocol::max_frame_bytes(state.config.rtc.max_participants_per_room);
    ws.read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_message_size(max_frame)
        .max_frame_size(max_frame)
        .on_upgrade(move |socket| async move {
            let guard = GuardedSocket::new(socket, SocketKind::Signaling, policy, linger);
            let (mut sink, mut stream) = guard.split();
            session::run(state, &mut sink, &mut stream).await;
            if let Ok(guard) = sink.reunite(stream) {
                guard.finish(farewell).await;
            }
        })
}

/// The protocol frame sent before the guard's close: `going_away` (reconnect) or a fatal
/// `idle_timeout` error.
fn farewell(end: SocketEnd) -> Option<String> {
    match end {
        SocketEnd::GoingAway(reason) => {
            Some(ServerMessage::going_away(protocol::wire_going_away(reason)).to_text())
        }
        SocketEnd::IdleTimeout => Some(
            ServerMessage::error_code(
                protocol::ErrorCode::IdleTimeout,
                "nothing received from the client for too long",
                true,
            )
            .to_text(),
        ),
        SocketEnd::MessageTooBig { .. } => None,
    }
}
