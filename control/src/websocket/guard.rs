//! [`GuardedSocket`]: an axum WebSocket with the server's rules applied around the session that
//! uses it: pings, the idle bound, the going-away signal and oversize frames.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::time::{Instant, Sleep, timeout};
use tokio_tungstenite::tungstenite;

use super::close::{self, GoingAwayReason};
use super::policy::{LingerOnClose, ServerClose, SocketKind, SocketPolicy};

/// How long [`GuardedSocket::finish`] waits for the client's close frame after sending one.
pub const CLOSE_HANDSHAKE_WAIT: Duration = Duration::from_secs(2);

/// Why the guard ended the client's frame stream (the session then sees the client as gone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketEnd {
    /// The process stops or drains: close 1001 with the reason.
    GoingAway(GoingAwayReason),
    /// Nothing arrived for the idle bound: close 4000 `idle_timeout`.
    IdleTimeout,
    /// A frame of `size` bytes exceeded `max` bytes: close 1009.
    MessageTooBig {
        /// Declared size of the frame (or the message so far).
        size: usize,
        /// The socket's limit.
        max: usize,
    },
}

impl SocketEnd {
    /// The close frame the server sends for this end.
    pub fn close_frame(self) -> (u16, String) {
        match self {
            SocketEnd::GoingAway(reason) => (close::GOING_AWAY, reason.as_str().to_string()),
            SocketEnd::IdleTimeout => (close::SESSION_ERROR, "idle_timeout".to_string()),
            SocketEnd::MessageTooBig { max, .. } => {
                (close::MESSAGE_TOO_BIG, format!("frame exceeds {max} bytes"))
            }
        }
    }

    fn cause(self) -> ServerClose {
        match self {
            SocketEnd::GoingAway(_) => ServerClose::GoingAway,
            SocketEnd::IdleTimeout => ServerClose::IdleTimeout,
            SocketEnd::MessageTooBig { .. } => ServerClose::MessageTooBig,
        }
    }
}

/// A WebSocket that pings the client, ends its frame stream when the client is idle too long,
/// when a frame is over the limit or when the process goes away, and then closes with the
/// matching code (see [`SocketEnd`]).
///
/// Usage: split it, run the session over `&mut` halves (the session sees the guard's ends as
/// the client leaving, so it cleans up as usual), reunite, then [`GuardedSocket::finish`].
/// The stream must be polled for pings and deadlines to run; both sessions poll it whenever
/// they wait.
pub struct GuardedSocket {
    ws: WebSocket,
    kind: SocketKind,
    policy: SocketPolicy,
    linger: Option<LingerOnClose>,
    ping: Pin<Box<Sleep>>,
    idle: Pin<Box<Sleep>>,
    going_away: Pin<Box<dyn Future<Output = GoingAwayReason> + Send>>,
    ping_due: bool,
    flush_due: bool,
    end: Option<SocketEnd>,
    sent_close: bool,
}

impl GuardedSocket {
    /// Guards `ws` (a socket of `kind`) with `policy`. `linger` comes from the request's
    /// extensions when the HTTP listener provides it.
    pub fn new(
        ws: WebSocket,
        kind: SocketKind,
        policy: SocketPolicy,
        linger: Option<LingerOnClose>,
    ) -> GuardedSocket {
        let now = Instant::now();
        let mut going_away = policy.going_away.clone();
        GuardedSocket {
            ws,
            kind,
            ping: Box::pin(tokio::time::sleep_until(now + policy.ping_interval)),
            idle: Box::pin(tokio::time::sleep_until(now + policy.idle_timeout)),
            going_away: Box::pin(async move { going_away.wait().await }),
            policy,
            linger,
            ping_due: false,
            flush_due: false,
            end: None,
            sent_close: false,
        }
    }

    /// Why the guard ended the stream, if it did.
    pub fn end(&self) -> Option<SocketEnd> {
        self.end
    }

    /// Closes the socket after the session returned. If the guard ended the stream, sends
    /// `farewell(end)` as a text frame (a protocol message saying why), then the close frame of
    /// [`SocketEnd::close_frame`], counts it and logs it. Otherwise completes a close the
    /// session or the client began, or begins one. Then waits (at most
    /// [`CLOSE_HANDSHAKE_WAIT`]) for the client's close frame. After an oversize frame the
    /// client's remaining bytes cannot be parsed: the socket is dropped at once with a lingering
    /// close instead.
    pub async fn finish(mut self, farewell: impl FnOnce(SocketEnd) -> Option<String>) {
        if let Some(end) = self.end {
            self.policy.stats.count(self.kind, end.cause());
            let socket = self.kind.as_str();
            match end {
                SocketEnd::MessageTooBig { size, max } => {
                    tracing::warn!(
                        socket,
                        size,
                        max,
                        "closing a WebSocket: frame too big (1009)"
                    );
                    if let Some(linger) = &self.linger {
                        linger.request();
                    }
                }
                SocketEnd::IdleTimeout => {
                    tracing::info!(socket, "closing an idle WebSocket");
                }
                SocketEnd::GoingAway(reason) => {
                    tracing::debug!(socket, %reason, "closing a WebSocket: going away (1001)");
                }
            }
            if let Some(text) = farewell(end) {
                let _ = self.ws.send(Message::Text(text.into())).await;
            }
            let (code, reason) = end.close_frame();
            let _ = self
                .ws
                .send(Message::Close(Some(CloseFrame {
                    code,
                    reason: reason.into(),
                })))
                .await;
            self.sent_close = true;
            if matches!(end, SocketEnd::MessageTooBig { .. }) {
                return;
            }
        }
        // Sends our close (if nobody began one) or the reply to the client's, and flushes.
        if self.ws.close().await.is_err() {
            return;
        }
        let _ = timeout(CLOSE_HANDSHAKE_WAIT, async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }

    fn end_with(&mut self, end: SocketEnd) -> Poll<Option<<Self as Stream>::Item>> {
        self.end = Some(end);
        Poll::Ready(None)
    }

    /// Sends a due ping and flushes it, without waiting: whatever is pending is retried on the
    /// next poll.
    fn drive_ping(&mut self, cx: &mut Context<'_>) {
        while self.ping.as_mut().poll(cx).is_ready() {
            self.ping_due = true;
            let next = Instant::now() + self.policy.ping_interval;
            self.ping.as_mut().reset(next);
        }
        if self.ping_due && !self.sent_close {
            match self.ws.poll_ready_unpin(cx) {
                Poll::Ready(Ok(())) => {
                    self.ping_due = false;
                    self.flush_due = self
                        .ws
                        .start_send_unpin(Message::Ping(Default::default()))
                        .is_ok();
                }
                Poll::Ready(Err(_)) => self.ping_due = false,
                Poll::Pending => {}
            }
        }
        if self.flush_due && self.ws.poll_flush_unpin(cx).is_ready() {
            self.flush_due = false;
        }
    }
}

/// The size and limit of a "message too long" error, if `err` is one.
fn too_big(err: &axum::Error) -> Option<(usize, usize)> {
    let inner = std::error::Error::source(err)?.downcast_ref::<tungstenite::Error>()?;
    match inner {
        tungstenite::Error::Capacity(tungstenite::error::CapacityError::MessageTooLong {
            size,
            max_size,
        }) => Some((*size, *max_size)),
        _ => None,
    }
}

impl Stream for GuardedSocket {
    type Item = Result<Message, axum::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.end.is_some() {
            return Poll::Ready(None);
        }
        if let Poll::Ready(reason) = this.going_away.as_mut().poll(cx) {
            return this.end_with(SocketEnd::GoingAway(reason));
        }
        if this.idle.as_mut().poll(cx).is_ready() {
            return this.end_with(SocketEnd::IdleTimeout);
        }
        this.drive_ping(cx);
        match ready!(this.ws.poll_next_unpin(cx)) {
            Some(Ok(message)) => {
                let next = Instant::now() + this.policy.idle_timeout;
                this.idle.as_mut().reset(next);
                Poll::Ready(Some(Ok(message)))
            }
            Some(Err(err)) => match too_big(&err) {
                Some((size, max)) => this.end_with(SocketEnd::MessageTooBig { size, max }),
                None => Poll::Ready(Some(Err(err))),
            },
            None => Poll::Ready(None),
        }
    }
}

impl Sink<Message> for GuardedSocket {
    type Error = axum::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().ws.poll_ready_unpin(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        let this = self.get_mut();
        if matches!(item, Message::Close(_)) {
            this.sent_close = true;
        }
        this.ws.start_send_unpin(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().ws.poll_flush_unpin(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        this.sent_close = true;
        this.ws.poll_close_unpin(cx)
    }
}
