//! `control-fanout`: how many chat envelopes per second control accepts and fans out to 1,000
//! connected realtime WebSocket subscribers, and the fanout latency, on SQLite and PostgreSQL.
//!
//! Everything runs in one process: control's router served over real TCP (`127.0.0.1`), one
//! sender device posting envelopes over HTTP, and N subscriber devices (one per user, all in the
//! channel's group) connected to `GET /v1/realtime`. Two runs per database:
//! - `paced`: a fixed rate (default 20 envelopes/s), to read latency below saturation;
//! - `saturation`: K concurrent senders as fast as the server accepts.
//!
//! Latency of a delivery = time the subscriber read the `message_created` frame minus the time the
//! sender started the POST. Results go to `bench/results/control-fanout.{csv,md}`.
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo run --release -p control-fanout -- --db both
//! ```

mod fixture;
mod report;
mod run;
mod subscribers;

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// SQLite `synchronous` levels (see `control::SqliteSynchronous`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum SyncChoice {
    /// Every commit fsynced (durable against power loss).
    Full,
    /// Fsync at checkpoints only (durable against process crashes).
    Normal,
}

impl From<SyncChoice> for control::SqliteSynchronous {
    fn from(c: SyncChoice) -> Self {
        match c {
            SyncChoice::Full => control::SqliteSynchronous::Full,
            SyncChoice::Normal => control::SqliteSynchronous::Normal,
        }
    }
}

/// Which databases to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum DbChoice {
    Sqlite,
    Postgres,
    Both,
}

/// Command line.
#[derive(Debug, Parser)]
#[command(about = "Chat envelope fanout benchmark (control crate)")]
struct Args {
    /// Databases to measure (PostgreSQL needs DATABASE_URL).
    #[arg(long, value_enum, default_value = "both")]
    db: DbChoice,
    /// Connected realtime subscribers (one device each, all in the group).
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Envelopes of the saturation run.
    #[arg(long, default_value_t = 2000)]
    envelopes: usize,
    /// Concurrent senders of the saturation run.
    #[arg(long, default_value_t = 8)]
    senders: usize,
    /// Rate of the paced run, envelopes per second.
    #[arg(long, default_value_t = 20)]
    paced_rate: u32,
    /// Duration of the paced run, seconds.
    #[arg(long, default_value_t = 10)]
    paced_secs: u32,
    /// Ciphertext size, bytes (before base64).
    #[arg(long, default_value_t = 256)]
    payload_bytes: usize,
    /// Output directory.
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    /// SQLite's `synchronous` level (`full` is openchatd's default; `normal` to compare).
    #[arg(long, value_enum, default_value = "full")]
    sqlite_synchronous: SyncChoice,
    /// Machine description written with the results.
    #[arg(long, default_value = "2 cores, shared with other builds")]
    machine: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Server-side failures (a 5xx names its cause only in the log).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut rows = Vec::new();
    let dbs = match args.db {
        DbChoice::Sqlite => vec![fixture::Db::Sqlite],
        DbChoice::Postgres => vec![fixture::Db::Postgres],
        DbChoice::Both => vec![fixture::Db::Sqlite, fixture::Db::Postgres],
    };
    for db in dbs {
        eprintln!("== {db:?}: setting up {} subscribers", args.subscribers);
        let fixture =
            fixture::Fixture::new(db, args.subscribers, args.sqlite_synchronous.into()).await?;
        rows.extend(run::measure(&fixture, &args).await?);
        fixture.close().await;
    }
    report::write(&args, &rows)?;
    Ok(())
}
