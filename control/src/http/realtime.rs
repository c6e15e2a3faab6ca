//! `GET /v1/realtime`: the WebSocket adapter around [`crate::realtime::run_session`].

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::{
    Message as WsMessage, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::extract::{Extension, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt, future};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::ErrorSchema;
use super::{ApiError, Caller};
use crate::Control;
use crate::epochs::DeviceRef;
use crate::realtime::{ClientInput, run_session};
use crate::websocket::{GuardedSocket, LingerOnClose, SocketEnd, SocketKind};

/// Largest client frame (and message); a larger one is answered with close 1009.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// The route of this file, with its OpenAPI entry (state applied by the caller).
pub(crate) fn routes() -> OpenApiRouter<Control> {
    OpenApiRouter::new().routes(routes!(realtime))
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
    linger: Option<Extension<LingerOnClose>>,
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
    let policy = control.socket_policy().clone();
    let linger = linger.map(|Extension(l)| l);
    Ok(upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| async move {
            let guard = GuardedSocket::new(socket, SocketKind::Realtime, policy, linger);
            let (mut sink, mut stream) = guard.split();
            let tx = Box::pin((&mut sink).with(|text: String| {
                future::ready(Ok::<_, axum::Error>(WsMessage::Text(text.into())))
            }));
            let rx = Box::pin(
                (&mut stream)
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
            run_session(control, device, resume, tx, rx).await;
            if let Ok(guard) = sink.reunite(stream) {
                guard.finish(farewell).await;
            }
        })
        .into_response())
}

/// The frame sent before the server closes a session on its own: an `error` frame for an idle
/// session (the close code says the rest).
fn farewell(end: SocketEnd) -> Option<String> {
    match end {
        SocketEnd::IdleTimeout => Some(
            serde_json::json!({"type": "error", "code": "idle_timeout",
                               "message": "nothing received from the client for too long"})
            .to_string(),
        ),
        SocketEnd::GoingAway(_) | SocketEnd::MessageTooBig { .. } => None,
    }
}
