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

/// How long [`SignalingSession::recv`] spends answering the server's close frame.
const CLOSE_REPLY_WAIT: Duration = Duration::from_secs(1);
/// The RFC 6455 close code of a server that goes away (stops or drains).
pub const CLOSE_GOING_AWAY: u16 = 1001;

/// One signaling session. Generic over the WebSocket so tests can drive it in memory.
pub struct SignalingSession<S> {
    ws: S,
    /// The reason of a `going_away` frame, until the socket closes.
    going_away: Option<String>,
    ended: bool,
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
        Self {
            ws,
            going_away: None,
            ended: false,
        }
    }

    /// Sends one frame.
    pub async fn send(&mut self, message: &ClientMessage) -> Result<(), JoinerError> {
        self.ws.send(Message::text(message.to_json())).await?;
        Ok(())
    }

    /// Receives the next frame. `None` once the server closed the socket.
    ///
    /// A frame that does not parse yields `Some(Err(Protocol))`; the session stays usable.
    /// When the server goes away (a `going_away` frame, then close code 1001; either one is
    /// enough) the close yields `Some(Err(ServerGoingAway))` once, then `None`.
    pub async fn recv(&mut self) -> Option<Result<ServerMessage, JoinerError>> {
        if self.ended {
            return None;
        }
        loop {
            let frame = match self.ws.next().await {
                None | Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => {
                    return self.ended(None);
                }
                Some(Ok(frame)) => frame,
                Some(Err(err)) => return Some(Err(err.into())),
            };
            match frame {
                Message::Text(text) => {
                    let message = ServerMessage::from_json(text.as_str()).map_err(|err| {
                        JoinerError::Protocol(format!("unparseable server frame: {err}"))
                    });
                    if let Ok(ServerMessage::GoingAway { reason, .. }) = &message {
                        self.going_away = Some(reason.to_string());
                    }
                    return Some(message);
                }
                Message::Binary(_) => {
                    return Some(Err(JoinerError::Protocol(
                        "unexpected binary frame".to_owned(),
                    )));
                }
                Message::Close(frame) => {
                    // Sends the reply that completes the closing handshake.
                    let _ = tokio::time::timeout(CLOSE_REPLY_WAIT, self.ws.close()).await;
                    let close = frame.map(|f| (u16::from(f.code), f.reason.as_str().to_owned()));
                    return self.ended(close);
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
    }

    /// The socket closed (with `close`, if a close frame said code and reason).
    fn ended(
        &mut self,
        close: Option<(u16, String)>,
    ) -> Option<Result<ServerMessage, JoinerError>> {
        self.ended = true;
        let reason = self.going_away.take().or_else(|| {
            close
                .filter(|(code, _)| *code == CLOSE_GOING_AWAY)
                .map(|(_, reason)| reason)
        })?;
        Some(Err(JoinerError::ServerGoingAway { reason }))
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
                            return Err(JoinerError::Signaling {
                                code: code.into_owned(),
                                message,
                            });
                        }
                        tracing::warn!(%code, %message, "signaling error before joined");
                    }
                    Some(Ok(other)) => {
                        tracing::debug!(?other, "ignoring frame before joined");
                    }
                    Some(Err(err @ JoinerError::ServerGoingAway { .. })) => return Err(err),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signaling_client::messages::GoingAwayReason;
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
    use tokio_tungstenite::tungstenite::protocol::{Role, frame::coding::CloseCode};

    /// A client session and the server end of an in-memory WebSocket.
    async fn pair() -> (
        SignalingSession<WebSocketStream<tokio::io::DuplexStream>>,
        WebSocketStream<tokio::io::DuplexStream>,
    ) {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let client = WebSocketStream::from_raw_socket(a, Role::Client, None).await;
        let server = WebSocketStream::from_raw_socket(b, Role::Server, None).await;
        (SignalingSession::new(client), server)
    }

    async fn close(server: &mut WebSocketStream<tokio::io::DuplexStream>, code: u16) {
        server
            .send(Message::Close(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: "shutdown".into(),
            })))
            .await
            .expect("close sent");
    }

    #[tokio::test]
    async fn going_away_frame_then_1001_ends_with_server_going_away() {
        let (mut session, mut server) = pair().await;
        server
            .send(Message::text(
                r#"{"type":"going_away","reason":"shutdown","reconnect":true}"#,
            ))
            .await
            .expect("frame sent");
        close(&mut server, 1001).await;
        assert!(matches!(
            session.recv().await,
            Some(Ok(ServerMessage::GoingAway {
                reason: GoingAwayReason::Shutdown,
                reconnect: true
            }))
        ));
        match session.recv().await {
            Some(Err(JoinerError::ServerGoingAway { reason })) => assert_eq!(reason, "shutdown"),
            other => panic!("expected ServerGoingAway, got {other:?}"),
        }
        assert!(session.recv().await.is_none());
        // The client answered the close: the server sees the handshake complete.
        let reply = server.next().await;
        assert!(matches!(reply, Some(Ok(Message::Close(_)))), "{reply:?}");
    }

    #[tokio::test]
    async fn a_bare_1001_close_is_going_away_too() {
        let (mut session, mut server) = pair().await;
        close(&mut server, 1001).await;
        let err = session
            .recv()
            .await
            .expect("an item")
            .expect_err("an error");
        assert_eq!(err.code(), "server_going_away");
        assert!(session.recv().await.is_none());
    }

    #[tokio::test]
    async fn a_normal_close_is_just_the_end() {
        let (mut session, mut server) = pair().await;
        close(&mut server, 1000).await;
        assert!(session.recv().await.is_none());
    }
}
