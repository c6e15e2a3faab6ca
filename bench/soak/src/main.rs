//! `soak`: one openchatd under steady churn for a long time (issue 17 item 8), to show that its
//! memory, descriptors, threads, tasks, database pool and connections stay flat and that nothing
//! is lost. See `bench/README.md` ("Soak").
//!
//! For `--duration` (default 30 minutes), against one release `openchatd` on SQLite or on a
//! fresh PostgreSQL database:
//! - joins and leaves in several voice rooms ([`churn`]: rtc-joiner's light str0m engine, real
//!   DTLS-SRTP audio on loopback);
//! - chat senders posting envelopes ([`chat`]);
//! - realtime subscribers that disconnect and reconnect, resuming from their last event
//!   ([`subscribers`]).
//!
//! Every `--sample-every` seconds ([`sampler`]) it records the server's RSS, descriptors,
//! threads (`/proc`), tokio tasks, pool use and sessions (`/metrics`), PostgreSQL backends and
//! TCP connections by kind. Afterwards it fits the trend of each series after warm-up
//! ([`slope`]), checks every acknowledged envelope is in history and reached every subscriber
//! ([`verify`]) and every join connected, waits for the server to go idle, and writes
//! `soak-<db>-<date>.{csv,json,md,png}` to `--results`. Exit status 1 if anything grows or was
//! lost.

mod api;
mod chat;
mod churn;
mod procfs;
mod report;
mod sampler;
mod server;
mod setup;
mod slope;
mod subscribers;
mod verify;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use sampler::{COLUMNS, Progress, Sample, Sources};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use subscribers::{Phase, RealtimeStats, Reconnects};
use tokio::sync::watch;

/// The database under soak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Db {
    /// SQLite in the server's data directory (the embedded default).
    Sqlite,
    /// A fresh database on `--database-url`'s server, dropped afterwards.
    Postgres,
}

#[derive(Parser, Debug)]
#[command(
    name = "soak",
    about = "Long churn against one openchatd; flat resources, nothing lost"
)]
struct Cli {
    /// Database.
    #[arg(long, value_enum, default_value_t = Db::Sqlite)]
    db: Db,
    /// Seconds of load (default 30 minutes).
    #[arg(long, default_value_t = 1800.0)]
    duration: f64,
    /// Seconds at the start left out of the trends (default: 5 minutes, at most a third of the run).
    #[arg(long)]
    warmup: Option<f64>,
    /// Seconds between samples.
    #[arg(long, default_value_t = 10.0)]
    sample_every: f64,
    /// Voice rooms.
    #[arg(long, default_value_t = 4)]
    rooms: usize,
    /// Joiners per room at a time (the first publishes a tone).
    #[arg(long, default_value_t = 5)]
    per_room: usize,
    /// Shortest stay of a listener, seconds (publishers stay three times as long).
    #[arg(long, default_value_t = 20.0)]
    min_stay: f64,
    /// Longest stay of a listener, seconds.
    #[arg(long, default_value_t = 60.0)]
    max_stay: f64,
    /// Text channels.
    #[arg(long, default_value_t = 2)]
    channels: usize,
    /// Chat senders.
    #[arg(long, default_value_t = 4)]
    senders: usize,
    /// Envelopes per second, all senders together.
    #[arg(long, default_value_t = 5.0)]
    chat_rate: f64,
    /// Realtime subscribers.
    #[arg(long, default_value_t = 20)]
    subscribers: usize,
    /// Shortest realtime session, seconds.
    #[arg(long, default_value_t = 10.0)]
    min_session: f64,
    /// Longest realtime session, seconds.
    #[arg(long, default_value_t = 40.0)]
    max_session: f64,
    /// PostgreSQL server (a fresh database is created on it).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    /// Directory of the release `openchatd`.
    #[arg(long, default_value_os_t = workspace_dir().join("target/release"))]
    bin_dir: PathBuf,
    /// Results directory.
    #[arg(long, default_value_os_t = workspace_dir().join("bench/results"))]
    results: PathBuf,
    /// Label in the file names (default: today's UTC date).
    #[arg(long)]
    label: Option<String>,
    /// A few seconds of everything at a small scale; results in a temporary directory; only
    /// the losses are judged (no trends).
    #[arg(long)]
    smoke: bool,
    /// Skip the PNG (python3 with matplotlib draws it).
    #[arg(long)]
    no_plot: bool,
    /// Run nothing: judge the trends of an earlier run again from its CSV and rewrite its
    /// `.json`, `.md` and `.png` (give the `.json`; the `.csv` must lie beside it).
    #[arg(long, value_name = "JSON")]
    rejudge: Option<PathBuf>,
}

fn workspace_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl Cli {
    /// The smoke scale: ~20 s, everything small and fast.
    fn smoke_scale(&mut self) {
        self.duration = self.duration.min(20.0);
        self.sample_every = 2.0;
        self.rooms = 2;
        self.per_room = 2;
        self.min_stay = 3.0;
        self.max_stay = 5.0;
        self.channels = 1;
        self.senders = 2;
        self.chat_rate = 5.0;
        self.subscribers = 3;
        self.min_session = 2.0;
        self.max_session = 4.0;
        self.no_plot = true;
    }

    fn warmup(&self) -> f64 {
        self.warmup
            .unwrap_or_else(|| 300.0_f64.min(self.duration / 3.0))
    }

    fn load_json(&self) -> Value {
        json!({
            "rooms": self.rooms, "per_room": self.per_room,
            "listener_stay_s": [self.min_stay, self.max_stay],
            "publisher_stay_s": [self.min_stay * 3.0, self.max_stay * 3.0],
            "text_channels": self.channels, "senders": self.senders,
            "envelopes_per_s": self.chat_rate, "subscribers": self.subscribers,
            "realtime_session_s": [self.min_session, self.max_session],
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut cli = Cli::parse();
    if cli.smoke {
        cli.smoke_scale();
    }
    let ok = match &cli.rejudge {
        Some(json) => rejudge(json, !cli.no_plot)?,
        None => run(&cli).await?,
    };
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}

/// Paths of one run's outputs.
struct Outputs {
    csv: PathBuf,
    json: PathBuf,
    md: PathBuf,
    png: PathBuf,
    _tmp: Option<TempDir>,
}

impl Outputs {
    fn new(cli: &Cli) -> anyhow::Result<Self> {
        let db = match cli.db {
            Db::Sqlite => "sqlite",
            Db::Postgres => "postgres",
        };
        let label = cli.label.clone().unwrap_or_else(utc_date);
        let (dir, tmp) = if cli.smoke {
            let tmp = TempDir::new("openchat-soak-smoke")?;
            (tmp.0.clone(), Some(tmp))
        } else {
            (cli.results.clone(), None)
        };
        std::fs::create_dir_all(&dir)?;
        let base = dir.join(format!("soak-{db}-{label}"));
        let with = |ext: &str| base.with_extension(ext);
        Ok(Self {
            csv: with("csv"),
            json: with("json"),
            md: with("md"),
            png: with("png"),
            _tmp: tmp,
        })
    }
}

async fn run(cli: &Cli) -> anyhow::Result<bool> {
    let outputs = Outputs::new(cli)?;
    let data = TempDir::new("openchat-soak")?;
    let database = match cli.db {
        Db::Sqlite => None,
        Db::Postgres => Some(server::FreshDatabase::create(&cli.database_url).await?),
    };
    let mut admin = match &database {
        Some(db) => Some(db.admin().await?),
        None => None,
    };
    let mut openchatd = server::Openchatd::start(
        &cli.bin_dir.join("openchatd"),
        &data.0,
        database.as_ref().map(|d| d.url.as_str()),
    )
    .await?;
    let base = openchatd.url()?;
    let api = api::Api::new(base.clone())?;
    let run_id = format!("soak{:06x}", rand::random::<u32>() & 0xff_ffff);
    eprintln!(
        "soak: openchatd pid {} on {base} ({:?}), {} s of load, results {}",
        openchatd.pid(),
        cli.db,
        cli.duration,
        outputs.csv.display()
    );
    let community = setup::create(
        &api,
        &run_id,
        setup::Sizes {
            rooms: cli.rooms,
            joiners: cli.rooms * cli.per_room,
            channels: cli.channels,
            senders: cli.senders,
            subscribers: cli.subscribers,
        },
    )
    .await
    .context("setting up the community")?;

    let start = Instant::now();
    let mut sources = Sources {
        api: &api,
        pid: openchatd.pid(),
        http_port: openchatd.http.port(),
        postgres: database.as_ref().zip(admin.as_mut()),
    };
    let baseline = sampler::sample(&mut sources, start, Progress::default())
        .await
        .context("the server is gone")?;

    // The load.
    let churn_stats = Arc::new(churn::ChurnStats::default());
    let chat_stats = Arc::new(chat::ChatStats::default());
    let rt_stats = Arc::new(RealtimeStats {
        subscribers: (0..cli.subscribers).map(|_| Arc::default()).collect(),
        ..RealtimeStats::default()
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let (phase_tx, phase_rx) = watch::channel(Phase::Churn);
    let stay = (
        Duration::from_secs_f64(cli.min_stay),
        Duration::from_secs_f64(cli.max_stay),
    );
    let mut joiners = churn::start(
        rtc_joiner::signaling_client::ApiClient::new(base.clone())?,
        &community.server_id,
        &community.rooms,
        &run_id,
        churn::ChurnPlan {
            rooms: cli.rooms,
            per_room: cli.per_room,
            stay,
            pause: Duration::from_secs(1),
        },
        churn_stats.clone(),
        stop_rx.clone(),
    )?;
    let mut senders = chat::start(
        &api,
        &community.senders,
        &community.channels,
        cli.chat_rate,
        chat_stats.clone(),
        stop_rx,
    );
    let mut subs = subscribers::start(
        &base,
        &community.subscribers,
        Reconnects {
            stay: (
                Duration::from_secs_f64(cli.min_session),
                Duration::from_secs_f64(cli.max_session),
            ),
            pause: Duration::from_millis(500),
        },
        &rt_stats,
        phase_rx,
    );

    // Sampling through the load.
    let mut csv = std::fs::File::create(&outputs.csv)?;
    writeln!(csv, "{}", COLUMNS.join(","))?;
    let mut samples: Vec<Sample> = Vec::new();
    let progress = || Progress {
        joiners_live: churn_stats.live(),
        joins: churn_stats.attempted.load(Ordering::Relaxed),
        acked: chat_stats.acked_count() as u64,
        rt_sessions_opened: rt_stats.sessions.load(Ordering::Relaxed),
    };
    let period = Duration::from_secs_f64(cli.sample_every);
    let mut server_died = false;
    for tick in 0u64.. {
        let due = start + period.mul_f64(tick as f64);
        if due.duration_since(start).as_secs_f64() > cli.duration {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let Some(sample) = sampler::sample(&mut sources, start, progress()).await else {
            server_died = true;
            break;
        };
        writeln!(csv, "{}", sample.csv())?;
        csv.flush()?;
        if tick % 6 == 0 {
            eprintln!(
                "soak: t={:>5.0}s rss={:.1} MiB fds={} threads={} tasks={} pool={}/{} http={} rt={} peers={} joins={} acked={}",
                sample.t_s,
                sample.rss_mib,
                sample.fds,
                sample.threads,
                sample.tasks,
                sample.pool_in_use,
                sample.pool_open,
                sample.http_conns,
                sample.realtime_sessions,
                sample.sfu_peers,
                sample.joins,
                sample.acked
            );
        }
        samples.push(sample);
    }

    // Wind down: joiners and senders stop; subscribers catch up, then leave.
    stop_tx.send_replace(true);
    while joiners.join_next().await.is_some() {}
    while senders.join_next().await.is_some() {}
    phase_tx.send_replace(Phase::Settle);
    let acked = chat_stats.acked();
    let (undelivered, catch_up) =
        verify::wait_for_deliveries(&rt_stats, &acked, Duration::from_secs(60)).await;
    let mut histories = Vec::new();
    for channel in &community.channels {
        histories.push(verify::history(&api, &community.owner.token, channel).await?);
    }
    let history = verify::check_history(&acked, &histories);
    phase_tx.send_replace(Phase::Stop);
    while subs.join_next().await.is_some() {}
    let idle = wait_idle(&mut sources, start).await;
    let server_running = openchatd.running();
    let (warn_lines, error_lines) = openchatd.log_counts();
    drop(openchatd);
    if let Some(db) = database {
        drop(admin);
        db.drop_now().await?;
    }

    // Verdict.
    let warmup = cli.warmup();
    let trends = report::trends(&samples, warmup, cli.duration);
    let growing = if cli.smoke {
        Vec::new()
    } else {
        report::growing(&trends)
    };
    let joins = json!({
        "attempted": churn_stats.attempted.load(Ordering::Relaxed),
        "connected": churn_stats.connected.load(Ordering::Relaxed),
        "failed": churn_stats.failed.load(Ordering::Relaxed),
        "cut_by_the_end": churn_stats.cut.load(Ordering::Relaxed),
        "failures": churn_stats.failures(),
        "listener_sessions": churn_stats.listener_sessions.load(Ordering::Relaxed),
        "listener_sessions_with_audio": churn_stats.listener_heard.load(Ordering::Relaxed),
        "packets_received": churn_stats.packets_received.load(Ordering::Relaxed),
        "packets_lost": churn_stats.packets_lost.load(Ordering::Relaxed),
    });
    let chat = json!({
        "attempted": chat_stats.attempted.load(Ordering::Relaxed),
        "acked": acked.len(),
        "retries": chat_stats.retries.load(Ordering::Relaxed),
        "failed": chat_stats.failed.load(Ordering::Relaxed),
        "failures": chat_stats.failures(),
    });
    let duplicates: u64 = rt_stats
        .subscribers
        .iter()
        .map(|s| s.duplicates.load(Ordering::Relaxed))
        .sum();
    let realtime = json!({
        "sessions_opened": rt_stats.sessions.load(Ordering::Relaxed),
        "connect_failures": rt_stats.connect_failures.load(Ordering::Relaxed),
        "resyncs": rt_stats.resyncs.load(Ordering::Relaxed),
        "server_closes": rt_stats.server_closes.load(Ordering::Relaxed),
        "deliveries_missing": undelivered.iter().sum::<usize>(),
        "duplicates": duplicates,
        "catch_up_s": catch_up.as_secs_f64(),
    });
    let mut problems: Vec<String> = growing.iter().map(|g| format!("{g} grows")).collect();
    let attempted = churn_stats.attempted.load(Ordering::Relaxed);
    let connected = churn_stats.connected.load(Ordering::Relaxed);
    let cut = churn_stats.cut.load(Ordering::Relaxed);
    if server_died || !server_running {
        problems.push("openchatd died".into());
    }
    if connected + cut != attempted || churn_stats.failed.load(Ordering::Relaxed) > 0 {
        problems.push(format!("joins: {joins}"));
    }
    if churn_stats.listener_heard.load(Ordering::Relaxed)
        != churn_stats.listener_sessions.load(Ordering::Relaxed)
    {
        problems.push("a listener heard no audio".into());
    }
    if chat_stats.failed.load(Ordering::Relaxed) > 0 || acked.is_empty() {
        problems.push(format!("chat: {chat}"));
    }
    if history["missing"] != 0 || history["duplicated"] != 0 {
        problems.push(format!("history: {history}"));
    }
    if undelivered.iter().any(|m| *m > 0) || duplicates > 0 {
        problems.push(format!("realtime: {realtime}"));
    }
    let cpu = samples.last().map_or(0.0, |s| s.cpu_s) - baseline.cpu_s;
    let summary = json!({
        "db": match cli.db { Db::Sqlite => "sqlite", Db::Postgres => "postgres" },
        "date": utc_date(),
        "duration_s": cli.duration,
        "warmup_s": warmup,
        "sample_period_s": cli.sample_every,
        "load": cli.load_json(),
        "trends": report::trends_json(&trends),
        "baseline": snapshot(&baseline),
        "idle_after": idle.as_ref().map(snapshot),
        "joins": joins,
        "chat": chat,
        "realtime": realtime,
        "history": history,
        "server": {
            "cpu_s": cpu,
            "cpu_percent": cpu / cli.duration * 100.0,
            "log_warn_lines": warn_lines,
            "log_error_lines": error_lines,
        },
        "verdict": {"ok": problems.is_empty(), "problems": problems},
    });
    std::fs::write(&outputs.json, serde_json::to_string_pretty(&summary)?)?;
    std::fs::write(&outputs.md, report::markdown(&summary))?;
    if !cli.no_plot {
        plot(&outputs.csv, &outputs.json, &outputs.png);
    }
    eprintln!("{}", report::markdown(&summary));
    eprintln!("soak: wrote {}", outputs.csv.display());
    Ok(problems.is_empty())
}

/// Judges the trends of a finished run again (after a change of the rule) and rewrites its
/// reports; the loss checks in the JSON are kept as they were.
fn rejudge(json_path: &Path, draw: bool) -> anyhow::Result<bool> {
    let mut summary: Value = serde_json::from_str(&std::fs::read_to_string(json_path)?)?;
    let csv_path = json_path.with_extension("csv");
    let samples = read_samples(&csv_path)?;
    let warmup = summary["warmup_s"].as_f64().context("warmup_s")?;
    let end = summary["duration_s"].as_f64().context("duration_s")?;
    let trends = report::trends(&samples, warmup, end);
    let mut problems: Vec<Value> = summary["verdict"]["problems"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| !p.as_str().is_some_and(|p| p.ends_with(" grows")))
        .collect();
    problems.extend(
        report::growing(&trends)
            .into_iter()
            .map(|g| json!(format!("{g} grows"))),
    );
    summary["trends"] = report::trends_json(&trends);
    summary["verdict"] = json!({"ok": problems.is_empty(), "problems": problems});
    std::fs::write(json_path, serde_json::to_string_pretty(&summary)?)?;
    std::fs::write(json_path.with_extension("md"), report::markdown(&summary))?;
    if draw {
        plot(&csv_path, json_path, &json_path.with_extension("png"));
    }
    eprintln!("{}", report::markdown(&summary));
    Ok(problems.is_empty())
}

/// Reads a CSV written by [`run`].
fn read_samples(path: &Path) -> anyhow::Result<Vec<Sample>> {
    let text = std::fs::read_to_string(path)?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().context("empty CSV")?.split(',').collect();
    anyhow::ensure!(
        header == COLUMNS,
        "unexpected columns in {}",
        path.display()
    );
    lines
        .map(|line| {
            let v: Vec<f64> = line
                .split(',')
                .map(|f| {
                    if f.is_empty() {
                        Ok(f64::NAN)
                    } else {
                        f.parse()
                    }
                })
                .collect::<Result<_, _>>()?;
            Sample::from_values(&v).context("short CSV row")
        })
        .collect()
}

/// The resource figures of a sample, for the baseline and idle readings.
fn snapshot(s: &Sample) -> Value {
    let keys = [
        "rss_mib",
        "fds",
        "threads",
        "tasks",
        "pool_open",
        "pg_backends",
        "http_conns",
        "close_wait",
        "realtime_sessions",
        "signaling_sessions",
        "sfu_peers",
        "sfu_rooms",
    ];
    keys.iter()
        .map(|k| {
            let v = s.get(k).unwrap_or(f64::NAN);
            (
                k.to_string(),
                if v.is_finite() { json!(v) } else { Value::Null },
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// After every client left: waits (up to 30 s) for sessions and peers to reach zero, then
/// samples once more.
async fn wait_idle(sources: &mut Sources<'_>, start: Instant) -> Option<Sample> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sample = sampler::sample(sources, start, Progress::default()).await?;
        let idle = sample.realtime_sessions == 0.0
            && sample.signaling_sessions == 0.0
            && sample.sfu_peers == 0.0;
        if idle || Instant::now() >= deadline {
            return Some(sample);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Draws the PNG with `bench/soak/plot.py` (python3 + matplotlib); a failure is reported, not fatal.
fn plot(csv: &Path, json: &Path, png: &Path) {
    let script = workspace_dir().join("bench/soak/plot.py");
    let status = std::process::Command::new("python3")
        .arg(script)
        .arg(csv)
        .arg(json)
        .arg(png)
        .status();
    match status {
        Ok(s) if s.success() => eprintln!("soak: wrote {}", png.display()),
        other => eprintln!(
            "soak: no plot ({other:?}); install matplotlib (bench/scripts/install-soak-deps.sh)"
        ),
    }
}

/// Today's date in UTC, `YYYY-MM-DD`.
fn utc_date() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&path)?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_from_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_513), (2026, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn flags_parse_and_smoke_shrinks_the_run() {
        let mut cli =
            Cli::try_parse_from(["soak", "--db", "postgres", "--duration", "600"]).expect("flags");
        assert_eq!(cli.db, Db::Postgres);
        assert_eq!(cli.warmup(), 200.0, "a third of a short run");
        let full = Cli::try_parse_from(["soak"]).expect("defaults");
        assert_eq!(full.duration, 1800.0);
        assert_eq!(full.warmup(), 300.0);
        cli.smoke = true;
        cli.smoke_scale();
        assert!(cli.duration <= 20.0 && cli.no_plot);
    }
}
