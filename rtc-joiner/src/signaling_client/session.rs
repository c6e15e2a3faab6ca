//! The signaling WebSocket session: typed frames over any WebSocket stream.

use super::messages::{ClientMessage, Joined, PROTOCOL_VERSION, ServerMessage};
use crate::JoinerError;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use reqwest::Url;
use std::time::Duration;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// The concrete stream [`connect`] returns.
pub type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One signaling session. Generic over the WebSocket so tests can drive it in memory.
pub struct SignalingSession<S> {
    ws: S,
}

/// Opens the signaling WebSocket at `url`.
pub async fn connect(url: &Url) -> Result<SignalingSession<WsStream>, JoinerError> {
    let (ws, _response) = tokio_tungstenite::connect_async(url.as_str()).await?;
    Ok(SignalingSession::new(ws))
}

impl<S> SignalingSession<S>
where
    S: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin,
{
    /// Wraps an open WebSocket.
    pub fn new(ws: S) -> Self {
        Self { ws }
    }

    /// Sends one frame.
    pub async fn send(&mut self, message: &ClientMessage) -> Result<(), JoinerError> {
        self.ws.send(Message::text(message.to_json())).await?;
        Ok(())
    }

    /// Receives the next frame. `None` once the server closed the socket.
    ///
    /// A frame that does not parse yields `Some(Err(Protocol))`; the session stays usable.
    pub async fn recv(&mut self) -> Option<Result<ServerMessage, JoinerError>> {
        loop {
            let frame = match self.ws.next().await? {
                Ok(frame) => frame,
                Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => return None,
                Err(err) => return Some(Err(err.into())),
            };
            match frame {
                Message::Text(text) => {
                    return Some(ServerMessage::from_json(text.as_str()).map_err(|err| {
                        JoinerError::Protocol(format!("unparseable server frame: {err}"))
                    }));
                }
                Message::Binary(_) => {
                    return Some(Err(JoinerError::Protocol(
                        "unexpected binary frame".to_owned(),
                    )));
                }
                Message::Close(_) => return None,
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
    }

    /// Sends `join` and waits (up to `timeout`) for `joined`.
    ///
    /// A fatal `error` frame (e.g. `ticket_expired`) becomes [`JoinerError::Signaling`].
    pub async fn join(&mut self, ticket: &str, timeout: Duration) -> Result<Joined, JoinerError> {
        self.send(&ClientMessage::Join {
            protocol: PROTOCOL_VERSION,
            ticket: ticket.to_owned(),
        })
        .await?;
        tokio::time::timeout(timeout, async {
            loop {
                match self.recv().await {
                    None => {
                        return Err(JoinerError::Protocol(
                            "server closed the signaling socket before `joined`".to_owned(),
                        ));
                    }
                    Some(Ok(ServerMessage::Joined(joined))) => return Ok(joined),
                    Some(Ok(ServerMessage::Error {
                        code,
                        message,
                        fatal,
                    })) => {
                        if fatal {
                            return Err(JoinerError::Signaling { code, message });
                        }
                        tracing::warn!(%code, %message, "signaling error before joined");
                    }
                    Some(Ok(other)) => {
                        tracing::debug!(?other, "ignoring frame before joined");
                    }
                    Some(Err(err)) => tracing::warn!(%err, "bad frame before joined"),
                }
            }
        })
        .await
        .map_err(|_| JoinerError::Timeout("no `joined` from the server".to_owned()))?
    }

    /// Closes the socket (best effort).
    pub async fn close(&mut self) {
        let _ = self.ws.close().await;
    }
}
