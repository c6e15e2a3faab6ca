//! `openchatd`: the OpenChat server (HTTP API, signaling, media plane, control plane).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use signaling::config::{self, Config, Mode};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "openchatd",
    version,
    about = "OpenChat server: voice rooms, signaling and the E2EE control plane"
)]
struct Cli {
    /// TOML config file (see openchatd.sample.toml).
    #[arg(long, env = "OPENCHAT_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// HTTP listen address (http.listen).
    #[arg(long, global = true)]
    listen: Option<String>,
    /// Data directory (data_dir).
    #[arg(long, global = true)]
    data_dir: Option<String>,
    /// Database URL (database.url).
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// development or production (mode).
    #[arg(long, global = true)]
    mode: Option<String>,
    /// First media UDP port (media.port).
    #[arg(long, global = true)]
    media_port: Option<String>,
    /// Media bind address (media.bind_ip).
    #[arg(long, global = true)]
    media_bind_ip: Option<String>,
    /// Address advertised in ICE candidates (media.advertised_ip).
    #[arg(long, global = true)]
    advertised_ip: Option<String>,
    /// Log filter (log.level).
    #[arg(long, global = true)]
    log_level: Option<String>,
    /// Any other setting, as dotted.key=value (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", global = true)]
    set: Vec<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Mint a development access token for a user (HS256 key from the config).
    Token {
        /// User id.
        user: String,
        /// Device id.
        #[arg(long)]
        device: Option<String>,
        /// Lifetime in seconds (default auth.dev_token_ttl_secs).
        #[arg(long)]
        ttl_secs: Option<u64>,
    },
    /// Validate the configuration and print it (secrets redacted).
    CheckConfig,
}

impl Cli {
    fn overrides(&self) -> anyhow::Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        let named = [
            ("http.listen", &self.listen),
            ("data_dir", &self.data_dir),
            ("database.url", &self.database_url),
            ("mode", &self.mode),
            ("media.port", &self.media_port),
            ("media.bind_ip", &self.media_bind_ip),
            ("media.advertised_ip", &self.advertised_ip),
            ("log.level", &self.log_level),
        ];
        for (key, value) in named {
            if let Some(v) = value {
                out.push((key.to_string(), v.clone()));
            }
        }
        for kv in &self.set {
            let (k, v) = kv
                .split_once('=')
                .with_context(|| format!("--set {kv:?}: expected KEY=VALUE"))?;
            out.push((k.trim().to_string(), v.to_string()));
        }
        Ok(out)
    }
}

fn init_logging(config: &Config) {
    let filter = EnvFilter::try_new(&config.log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if config.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let dev = config.mode == Mode::Development;
    // Each connection holds a descriptor: use what the hard limit allows.
    let open_files = signaling::listener::raise_open_file_limit();
    let limits = signaling::server::listener_limits(&config);
    tracing::info!(
        ?open_files,
        max_connections = limits.max_connections,
        max_connections_per_ip = limits.max_connections_per_ip,
        "connection limits"
    );
    let mut running = signaling::start(config).await?;
    let http = running.http_addr;
    let ports: Vec<String> = running.media_addrs.iter().map(|a| a.to_string()).collect();
    tracing::info!(%http, media = ?ports, "openchatd ready");
    println!(
        "openchatd listening on http://{http} (media UDP {})",
        ports.join(", ")
    );
    if dev {
        println!(
            "  demo client:  http://{http}/   (development mode: any user name joins srv_harbor / vc_general)"
        );
        println!(
            "  rtc-joiner:   cargo run -p rtc-joiner -- --backend-url http://{http} --channel-id vc_general --user bob --tone-hz 440"
        );
    }
    tokio::select! {
        r = running.wait() => r?,
        _ = shutdown_signal() => {
            tracing::info!("shutting down gracefully (a second signal exits at once)");
            tokio::select! {
                () = running.stop() => {}
                _ = shutdown_signal() => tracing::warn!("second signal: exiting now"),
            }
            tracing::info!("stopped");
        }
    }
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let overrides = cli.overrides()?;
    let config = config::load(cli.config.as_deref(), std::env::vars(), &overrides)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            init_logging(&config);
            serve(config).await
        }
        Command::Migrate => {
            init_logging(&config);
            signaling::server::open_control(&config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Token {
            user,
            device,
            ttl_secs,
        } => {
            let user = openchat_protocol::UserId::parse(user)?;
            let device = device.map(openchat_protocol::DeviceId::parse).transpose()?;
            let keys = signaling::keys::Keys::resolve(&config)?;
            let tokens = signaling::auth::AccessTokens::new(&config.auth, &keys)?;
            let ttl = ttl_secs.unwrap_or(config.auth.dev_token_ttl_secs);
            println!("{}", tokens.mint(&user, device.as_ref(), ttl)?);
            Ok(())
        }
        Command::CheckConfig => {
            println!("{config:#?}");
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("openchatd: error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
