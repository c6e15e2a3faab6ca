//! The HTTP listener: our own accept loop around the axum router, so that connections are
//! bounded. Each connection is served by hyper (HTTP/1.1 with upgrades) under deadlines: the
//! whole request head ([`Timeouts::header`], also a new connection that sends nothing), idle
//! keep-alive ([`Timeouts::keep_alive`]), and a WebSocket upgrade until its 101
//! ([`Timeouts::ws_upgrade`]). Connections are capped per client address and in total;
//! refused ones get a short 503 written without waiting and are closed at once. A graceful
//! stop stops accepting, drops idle and half-sent connections at once, and lets requests in
//! flight finish until a deadline. WebSockets are closed by their own guard (see
//! [`control::websocket`]); their sockets stay counted until they close.

mod conn;
mod fd_limit;
mod io;
mod state;
mod stats;
mod table;

pub use fd_limit::{max_connections, open_file_limit, raise_open_file_limit};
pub use state::Timeouts;
pub use stats::{ConnStats, TimeoutKind};
pub use table::Refusal;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use conn::Shared;
use io::Lingerer;
use table::ConnTable;

/// Limits of the listener.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// HTTP deadlines.
    pub timeouts: Timeouts,
    /// Most open connections.
    pub max_connections: usize,
    /// Most open connections per client address (0: unlimited).
    pub max_connections_per_ip: usize,
}

/// A running listener.
pub struct HttpServer {
    stop: watch::Sender<Option<Instant>>,
    table: Arc<ConnTable>,
    accept: JoinHandle<()>,
}

impl HttpServer {
    /// Serves `router` on `listener` under `limits`, counting into `stats`.
    pub fn start(
        listener: TcpListener,
        router: Router,
        limits: Limits,
        stats: Arc<ConnStats>,
    ) -> HttpServer {
        let (stop, stop_rx) = watch::channel(None);
        let table = Arc::new(ConnTable::new(
            limits.max_connections,
            limits.max_connections_per_ip,
            stats.clone(),
        ));
        let shared = Arc::new(Shared {
            router,
            timeouts: limits.timeouts,
            stats,
            lingerer: Lingerer::start(),
            stop: stop_rx.clone(),
        });
        let accept = tokio::spawn(accept_loop(listener, table.clone(), shared, stop_rx));
        HttpServer {
            stop,
            table,
            accept,
        }
    }

    /// Stops accepting; idle and half-sent connections close at once, requests in flight may
    /// run until `deadline`. Returns once the listening socket is closed.
    pub async fn stop_accepting(&mut self, deadline: Instant) {
        self.stop.send_replace(Some(deadline));
        let _ = (&mut self.accept).await;
    }

    /// Waits until every connection closed or `deadline` passed; returns how many are open.
    pub async fn drained(&self, deadline: Instant) -> usize {
        let _ = tokio::time::timeout_at(deadline, self.table.emptied()).await;
        self.table.open()
    }

    /// Waits until the accept loop ends (it only ends when stopped, or if it panics).
    pub async fn wait(&mut self) -> Result<(), tokio::task::JoinError> {
        (&mut self.accept).await
    }
}

/// Logs at most one WARN per interval for a repeated event, with how many happened.
struct WarnEvery {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl WarnEvery {
    fn new(interval: Duration) -> WarnEvery {
        WarnEvery {
            interval,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(count)` when a warning is due: the events since the last one, this one included.
    fn due(&mut self) -> Option<u64> {
        let now = Instant::now();
        self.suppressed += 1;
        if self.last.is_some_and(|at| now < at + self.interval) {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

async fn accept_loop(
    listener: TcpListener,
    table: Arc<ConnTable>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<Option<Instant>>,
) {
    let mut refusal_warning = WarnEvery::new(Duration::from_secs(10));
    let mut error_warning = WarnEvery::new(Duration::from_secs(1));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(Option::is_some) => break,
        };
        match accepted {
            Ok((stream, peer)) => match table.admit(peer.ip()) {
                Ok(guard) => {
                    tokio::spawn(conn::serve(stream, peer, guard, shared.clone()));
                }
                Err(refusal) => {
                    shared.stats.refused(refusal);
                    if let Some(count) = refusal_warning.due() {
                        tracing::warn!(
                            %peer,
                            limit = refusal.as_str(),
                            refused = count,
                            "refusing connections: limit reached"
                        );
                    }
                    // One non-blocking write, then close: never queued, never awaited.
                    let _ = stream.try_write(&conn::refusal_response(refusal.as_str()));
                }
            },
            Err(e) => {
                use std::io::ErrorKind;
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionAborted
                        | ErrorKind::ConnectionReset
                        | ErrorKind::Interrupted
                ) {
                    continue;
                }
                if let Some(count) = error_warning.due() {
                    tracing::warn!(error = %e, errors = count, "accept failed; backing off");
                }
                // Out of descriptors or memory: retrying at once would spin.
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                    _ = stop.wait_for(Option::is_some) => break,
                }
            }
        }
    }
}
