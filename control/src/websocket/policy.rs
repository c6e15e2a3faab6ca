//! How the server treats every WebSocket it serves: pings, the idle bound, the process-wide
//! going-away signal, counters for `/metrics`, and lingering closes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use super::close::GoingAwayReason;

/// Which of the two WebSockets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SocketKind {
    /// `GET /v1/rtc/signaling`.
    Signaling,
    /// `GET /v1/realtime`.
    Realtime,
}

impl SocketKind {
    /// Both kinds, in label order.
    pub const ALL: [SocketKind; 2] = [SocketKind::Signaling, SocketKind::Realtime];

    /// The `/metrics` label.
    pub fn as_str(self) -> &'static str {
        match self {
            SocketKind::Signaling => "signaling",
            SocketKind::Realtime => "realtime",
        }
    }

    fn index(self) -> usize {
        match self {
            SocketKind::Signaling => 0,
            SocketKind::Realtime => 1,
        }
    }
}

/// Why the server closed a WebSocket on its own, as counted on `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServerClose {
    /// 1001: the process stops or drains.
    GoingAway,
    /// 1009: a frame over the limit.
    MessageTooBig,
    /// 4000 `idle_timeout`: nothing (not even a pong) from the client for the idle bound.
    IdleTimeout,
}

impl ServerClose {
    /// Every cause, in label order.
    pub const ALL: [ServerClose; 3] = [
        ServerClose::GoingAway,
        ServerClose::MessageTooBig,
        ServerClose::IdleTimeout,
    ];

    /// The `/metrics` label.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerClose::GoingAway => "going_away",
            ServerClose::MessageTooBig => "message_too_big",
            ServerClose::IdleTimeout => "idle_timeout",
        }
    }

    fn index(self) -> usize {
        match self {
            ServerClose::GoingAway => 0,
            ServerClose::MessageTooBig => 1,
            ServerClose::IdleTimeout => 2,
        }
    }
}

/// Closes the server made, by socket kind and cause (read by `/metrics`).
#[derive(Debug, Default)]
pub struct SocketStats {
    closes: [[AtomicU64; 3]; 2],
}

impl SocketStats {
    /// Counts one close.
    pub fn count(&self, kind: SocketKind, cause: ServerClose) {
        self.closes[kind.index()][cause.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Closes so far of `kind` for `cause`.
    pub fn closes(&self, kind: SocketKind, cause: ServerClose) -> u64 {
        self.closes[kind.index()][cause.index()].load(Ordering::Relaxed)
    }
}

/// Raises the process-wide going-away signal (kept by the process wiring).
#[derive(Debug)]
pub struct GoingAwayTrigger {
    tx: watch::Sender<Option<GoingAwayReason>>,
}

impl GoingAwayTrigger {
    /// A new, lowered signal.
    pub fn new() -> GoingAwayTrigger {
        GoingAwayTrigger {
            tx: watch::channel(None).0,
        }
    }

    /// Tells every socket to close with 1001 and `reason`. The first reason stays.
    pub fn go_away(&self, reason: GoingAwayReason) {
        self.tx.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(reason);
                true
            } else {
                false
            }
        });
    }

    /// A receiver of the signal.
    pub fn subscribe(&self) -> GoingAway {
        GoingAway {
            rx: self.tx.subscribe(),
        }
    }
}

impl Default for GoingAwayTrigger {
    fn default() -> Self {
        GoingAwayTrigger::new()
    }
}

/// Waits for the process-wide going-away signal.
#[derive(Clone, Debug)]
pub struct GoingAway {
    rx: watch::Receiver<Option<GoingAwayReason>>,
}

impl GoingAway {
    /// A signal that is never raised.
    pub fn never() -> GoingAway {
        GoingAway {
            rx: watch::channel(None).1,
        }
    }

    /// The reason, once raised.
    pub fn reason(&self) -> Option<GoingAwayReason> {
        *self.rx.borrow()
    }

    /// Resolves once the signal is raised (never, if its trigger is gone unraised).
    pub async fn wait(&mut self) -> GoingAwayReason {
        loop {
            if let Some(reason) = *self.rx.borrow_and_update() {
                return reason;
            }
            if self.rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }
}

/// Put into each request's extensions by the HTTP listener. A WebSocket handler that closes
/// while the client may still be sending (after an oversize frame) asks for a lingering close:
/// when the socket is dropped the listener reads and discards what the client still sends, for
/// a short bounded time, so that the close frame is not lost to a TCP reset.
#[derive(Clone, Debug, Default)]
pub struct LingerOnClose(Arc<AtomicBool>);

impl LingerOnClose {
    /// Asks for a lingering close of this connection.
    pub fn request(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether a handler asked for it.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Settings and shared state every WebSocket of the process follows. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SocketPolicy {
    /// The server sends a WebSocket ping this often.
    pub ping_interval: Duration,
    /// A socket from which nothing arrives (no frame, not even a pong) for this long is closed
    /// with 4000 `idle_timeout`.
    pub idle_timeout: Duration,
    /// Raised when the process stops or drains: sockets close with 1001.
    pub going_away: GoingAway,
    /// Counters for `/metrics`.
    pub stats: Arc<SocketStats>,
}

impl Default for SocketPolicy {
    fn default() -> Self {
        SocketPolicy {
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            going_away: GoingAway::never(),
            stats: Arc::default(),
        }
    }
}
