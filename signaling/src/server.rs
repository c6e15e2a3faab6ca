//! Process wiring: keys, control, sfu and the HTTP listener, started together and stopped together.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use control::Control;
use control::websocket::{CLOSE_HANDSHAKE_WAIT, GoingAwayReason, GoingAwayTrigger, SocketPolicy};
use sfu::{Sfu, SfuConfig};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::auth::AccessTokens;
use crate::config::{Config, Mode};
use crate::error::ServerError;
use crate::keys::Keys;
use crate::listener::{self, HttpServer, Limits, Timeouts};
use crate::metrics::Metrics;
use crate::rate_limit::{Rate, RateLimiter};
use crate::state::AppState;
use crate::tickets::Tickets;

/// A started server.
pub struct Running {
    /// The HTTP address actually bound.
    pub http_addr: SocketAddr,
    /// The UDP address of each sfu worker.
    pub media_addrs: Vec<SocketAddr>,
    /// Shared state (for tests and the CLI).
    pub state: AppState,
    http: HttpServer,
    going_away: GoingAwayTrigger,
    grace: Duration,
    watcher: JoinHandle<()>,
}

impl Running {
    /// Stops gracefully: stops accepting; closes every signaling and realtime WebSocket with
    /// 1001 `shutdown` (signaling sessions first get a `going_away` frame); drops idle and
    /// half-sent connections at once; lets requests in flight finish within
    /// `http.shutdown_grace_secs`. Returns once every connection closed, or when the grace
    /// (at least the WebSocket close handshake) is over.
    pub async fn stop(mut self) {
        let started = Instant::now();
        let deadline = started + self.grace;
        self.going_away.go_away(GoingAwayReason::Shutdown);
        self.http.stop_accepting(deadline).await;
        let bound = deadline.max(started + CLOSE_HANDSHAKE_WAIT) + STOP_MARGIN;
        let open = self.http.drained(bound).await;
        if open > 0 {
            tracing::warn!(open, "stopping with connections still open");
        } else {
            tracing::info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "every connection closed"
            );
        }
        self.watcher.abort();
        // After the sessions: their last commits still get their `NOTIFY`.
        let stopped = self.state.control.stop_background().await;
        tracing::debug!(?stopped, "realtime background tasks stopped");
    }

    /// Waits until the server stops by itself (its accept loop failed).
    pub async fn wait(&mut self) -> Result<(), ServerError> {
        self.http
            .wait()
            .await
            .map_err(|e| ServerError::Serve(e.to_string()))
    }
}

/// Time a stop waits beyond the grace for the last sockets to close.
const STOP_MARGIN: Duration = Duration::from_millis(500);

/// Connects to the database and applies migrations (also the `migrate` subcommand).
pub async fn open_control(config: &Config) -> Result<Control, ServerError> {
    let options = config.control.options(
        &config.data_dir,
        config.mode == Mode::Development,
        config.database.sqlite_synchronous,
    );
    let control = Control::connect(&config.database_url(), options)
        .await
        .map_err(ServerError::database("cannot open the database"))?;
    control
        .migrate()
        .await
        .map_err(ServerError::database("migrations failed"))?;
    Ok(control)
}

/// The sfu configuration the process configuration's `[media]` section gives.
pub fn sfu_config(config: &Config) -> SfuConfig {
    config.media.sfu_config()
}

/// Starts everything `openchatd serve` runs.
pub async fn start(config: Config) -> Result<Running, ServerError> {
    let keys = Keys::resolve(&config)?;
    let tokens = AccessTokens::new(&config.auth, &keys)?;
    let tickets = Tickets::new(
        &keys.ticket_secret,
        config.rtc.ticket_ttl_secs,
        &config.rtc.node_id,
    );
    let control = open_control(&config).await?;
    if config.mode == Mode::Development {
        control
            .seed_dev()
            .await
            .map_err(ServerError::database("seeding development data"))?;
    }
    // Realtime fanout: tail the outbox (and LISTEN on PostgreSQL) from the start.
    control.start_background();
    let sfu = Sfu::start(sfu_config(&config)).map_err(ServerError::Media)?;
    let metrics = Arc::new(Metrics::with_sfu(&sfu));
    let media_addrs = sfu.local_addrs();
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .map_err(|source| ServerError::Listen {
            addr: config.http.listen,
            source,
        })?;
    let http_addr = listener
        .local_addr()
        .map_err(|source| ServerError::Listen {
            addr: config.http.listen,
            source,
        })?;
    let config_limits = config.limits.clone();
    let going_away = GoingAwayTrigger::new();
    let sockets = SocketPolicy {
        ping_interval: Duration::from_secs(config.http.ws_ping_interval_secs),
        idle_timeout: Duration::from_secs(config.http.ws_idle_timeout_secs),
        going_away: going_away.subscribe(),
        stats: Arc::default(),
    };
    let control = control.with_socket_policy(sockets.clone());
    let limits = listener_limits(&config);
    let grace = Duration::from_secs(config.http.shutdown_grace_secs);
    let state = AppState {
        config: Arc::new(config),
        tokens: Arc::new(tokens),
        tickets: Arc::new(tickets),
        control,
        sfu,
        sockets,
        metrics,
        rate_limiter: Arc::new(RateLimiter::new(
            Rate {
                per_second: config_limits.user_rps,
                burst: f64::from(config_limits.user_burst),
            },
            Rate {
                per_second: config_limits.device_rps,
                burst: f64::from(config_limits.device_burst),
            },
        )),
        live: Default::default(),
    };
    // Revocations and removals end this node's live sessions (they reach every node).
    let watcher = tokio::spawn(crate::live::watch_access(state.clone()));
    let app = crate::app(state.clone());
    let http = HttpServer::start(listener, app, limits, state.metrics.connections.clone());
    Ok(Running {
        http_addr,
        media_addrs,
        state,
        http,
        going_away,
        grace,
        watcher,
    })
}

/// The listener's limits from the `[http]` section (an automatic total from the open-file
/// limit when `http.max_connections` is 0).
pub fn listener_limits(config: &Config) -> Limits {
    let http = &config.http;
    Limits {
        timeouts: Timeouts {
            header: Duration::from_secs(http.header_read_timeout_secs),
            keep_alive: Duration::from_secs(http.keep_alive_timeout_secs),
            ws_upgrade: Duration::from_secs(http.ws_upgrade_timeout_secs),
        },
        max_connections: listener::max_connections(
            http.max_connections,
            listener::open_file_limit(),
        ),
        max_connections_per_ip: http.max_connections_per_ip,
    }
}
