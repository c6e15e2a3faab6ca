//! Process wiring: keys, control, sfu and the HTTP listener, started together and stopped together.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use control::{Control, ControlOptions};
use sfu::{Sfu, SfuConfig};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::auth::AccessTokens;
use crate::config::{Config, Mode};
use crate::keys::Keys;
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
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting, lets open requests finish and waits for the listener to close.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .context("shutdown took too long")???;
        Ok(())
    }

    /// Waits until the server stops by itself (listener error).
    pub async fn wait(&mut self) -> anyhow::Result<()> {
        (&mut self.task).await??;
        Ok(())
    }
}

/// Connects to the database and applies migrations (also the `migrate` subcommand).
pub async fn open_control(config: &Config) -> anyhow::Result<Control> {
    let options = ControlOptions {
        dev_mode: config.mode == Mode::Development,
        avatar_dir: Some(config.avatar_dir()),
        avatar_max_bytes: config.control.avatar_max_bytes,
        max_devices_per_user: config.control.max_devices_per_user,
        key_backup_max_bytes: config.control.key_backup_max_bytes,
        sqlite_synchronous: config.database.sqlite_synchronous,
    };
    let control = Control::connect(&config.database_url(), options)
        .await
        .context("cannot open the database")?;
    control.migrate().await.context("migrations failed")?;
    Ok(control)
}

/// Builds the sfu configuration from the process configuration.
pub fn sfu_config(config: &Config) -> SfuConfig {
    SfuConfig {
        bind_ip: config.media.bind_ip,
        base_port: config.media.port,
        workers: config.media.workers,
        advertised_ip: config.media.advertised_ip,
        peer_timeout: Duration::from_secs(config.media.peer_timeout_secs),
        connect_timeout: Duration::from_secs(config.media.peer_timeout_secs.max(10)),
    }
}

/// Starts everything `openchatd serve` runs.
pub async fn start(config: Config) -> anyhow::Result<Running> {
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
            .context("seeding development data")?;
    }
    // Realtime fanout: tail the outbox (and LISTEN on PostgreSQL) from the start.
    let _ = control.start_background();
    let sfu = Sfu::start(sfu_config(&config)).context("cannot start the media plane")?;
    let media_addrs = sfu.local_addrs();
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.http.listen))?;
    let http_addr = listener.local_addr()?;
    let config_limits = config.limits.clone();
    let state = AppState {
        config: Arc::new(config),
        tokens: Arc::new(tokens),
        tickets: Arc::new(tickets),
        control,
        sfu,
        metrics: Arc::new(Metrics::new()),
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
    };
    let app = crate::app(state.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    Ok(Running {
        http_addr,
        media_addrs,
        state,
        shutdown: Some(tx),
        task,
    })
}
