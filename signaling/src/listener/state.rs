//! What one connection is doing, shared by its socket wrapper, its request service and its
//! watchdog: requests in flight, when it went idle, when a request head began.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use control::websocket::LingerOnClose;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::stats::TimeoutKind;
use super::table::ConnGuard;

/// The HTTP deadlines of a connection.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// A whole request head; also a new connection that sends nothing.
    pub header: Duration,
    /// An idle keep-alive connection.
    pub keep_alive: Duration,
    /// A WebSocket upgrade request until its 101.
    pub ws_upgrade: Duration,
}

/// Shared state of one connection. Times are milliseconds since `born`; 0 in an optional
/// field means "not set" (stored values are offset by one).
pub struct ConnState {
    born: Instant,
    in_flight: AtomicU32,
    served: AtomicU32,
    idle_since: AtomicU64,
    head_started: AtomicU64,
    upgrade_since: AtomicU64,
    upgraded: AtomicBool,
    changed: Notify,
    /// Handed to handlers in request extensions.
    pub linger: LingerOnClose,
    _guard: ConnGuard,
}

impl ConnState {
    /// A new connection, counted by `guard` for as long as this state lives.
    pub fn new(guard: ConnGuard) -> ConnState {
        ConnState {
            born: Instant::now(),
            in_flight: AtomicU32::new(0),
            served: AtomicU32::new(0),
            idle_since: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
            upgrade_since: AtomicU64::new(0),
            upgraded: AtomicBool::new(false),
            changed: Notify::new(),
            linger: LingerOnClose::default(),
            _guard: guard,
        }
    }

    fn now_ms(&self) -> u64 {
        self.born.elapsed().as_millis() as u64
    }

    /// Bytes arrived from the client.
    pub fn on_read(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0
            && self.head_started.load(Ordering::Relaxed) == 0
        {
            self.head_started
                .store(self.now_ms() + 1, Ordering::Relaxed);
            self.changed.notify_one();
        }
    }

    /// A request head was parsed and handed to the router; the returned guard ends it when
    /// the response body is done (or dropped).
    pub fn request_started(self: &Arc<Self>, upgrade: bool) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_started.store(0, Ordering::Relaxed);
        if upgrade {
            self.upgrade_since
                .store(self.now_ms() + 1, Ordering::Relaxed);
        }
        self.changed.notify_one();
        InFlight(self.clone())
    }

    /// The response switched protocols: HTTP deadlines no longer apply.
    pub fn mark_upgraded(&self) {
        self.upgraded.store(true, Ordering::Relaxed);
        self.changed.notify_one();
    }

    /// Requests being served now.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Acquire)
    }

    fn request_finished(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle_since.store(self.now_ms(), Ordering::Relaxed);
            self.head_started.store(0, Ordering::Relaxed);
            self.upgrade_since.store(0, Ordering::Relaxed);
        }
        self.served.fetch_add(1, Ordering::Relaxed);
        self.changed.notify_one();
    }

    /// The next deadline (ms since `born`) and what it enforces; `None` while a plain request
    /// is in flight or after an upgrade.
    fn deadline(&self, t: &Timeouts) -> Option<(u64, TimeoutKind)> {
        if self.upgraded.load(Ordering::Relaxed) {
            return None;
        }
        let ms = |d: Duration| d.as_millis() as u64;
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return match self.upgrade_since.load(Ordering::Relaxed) {
                0 => None,
                at => Some((at - 1 + ms(t.ws_upgrade), TimeoutKind::WsUpgrade)),
            };
        }
        match self.head_started.load(Ordering::Relaxed) {
            0 => {}
            at => return Some((at - 1 + ms(t.header), TimeoutKind::Header)),
        }
        let idle_since = self.idle_since.load(Ordering::Relaxed);
        if self.served.load(Ordering::Relaxed) == 0 {
            Some((idle_since + ms(t.header), TimeoutKind::Header))
        } else {
            Some((idle_since + ms(t.keep_alive), TimeoutKind::KeepAlive))
        }
    }

    /// Resolves with the deadline that expired first.
    pub async fn watchdog(&self, t: Timeouts) -> TimeoutKind {
        loop {
            match self.deadline(&t) {
                None => self.changed.notified().await,
                Some((at, kind)) if at <= self.now_ms() => return kind,
                Some((at, _)) => {
                    let when = self.born + Duration::from_millis(at);
                    tokio::select! {
                        _ = tokio::time::sleep_until(when) => {}
                        _ = self.changed.notified() => {}
                    }
                }
            }
        }
    }
}

/// One request in flight; dropping it ends the request.
pub struct InFlight(Arc<ConnState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}
