//! `bench`: the OpenChat benchmark harness (issue 4). See `bench/README.md`.
//!
//! - `bench openchatd`: each scenario against a fresh release `openchatd`, driven by
//!   `rtc-joiner load` in another process; one CSV row per run in `bench/results/openchatd.csv`.
//! - `bench compare`: the fan-out scenarios alternating openchatd, Janus (default) and Janus
//!   (`event_loops = 2`) within each run; rows in `bench/results/compare.csv`.
//! - `bench plot`: medians of every CSV in `bench/results/` into `summary.csv` and `fanout.svg`.
//! - `bench janus-load` (internal): the load process for Janus, spawned by `compare`.
//!
//! Everything runs on loopback and every phase is bounded.

mod clips;
mod janus;
mod load;
mod machine;
mod moderation;
mod openchatd;
mod plot;
mod ratios;
mod results;
mod scenario;
mod video_results;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rtc_joiner::load::cli::Engine;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "bench", about = "OpenChat benchmark harness")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs scenarios against openchatd and appends rows to <results>/openchatd.csv.
    Openchatd {
        #[command(flatten)]
        run: RunArgs,
        /// Media worker threads of openchatd.
        #[arg(long, default_value_t = 1)]
        workers: u32,
    },
    /// Fan-out against openchatd and Janus (default and event_loops = 2), alternating within
    /// each run; appends rows to <results>/compare.csv.
    Compare {
        #[command(flatten)]
        run: RunArgs,
    },
    /// Internal: the load process against a Janus HTTP API (prints the JSON summary).
    #[command(hide = true)]
    JanusLoad(JanusLoadArgs),
    /// Moderation enforcement latency: a talker server-muted and unmuted through the API,
    /// `--actions` times per run; appends to <results>/moderation.csv.
    Moderation {
        /// Mute/unmute cycles per run.
        #[arg(long, default_value_t = 100)]
        actions: u32,
        /// Runs (a fresh openchatd each).
        #[arg(long, default_value_t = 3)]
        runs: u32,
        /// Results directory.
        #[arg(long, default_value_os_t = results_dir())]
        results: PathBuf,
        /// Directory of the release binaries (openchatd, rtc-joiner).
        #[arg(long, default_value_os_t = workspace_dir().join("target/release"))]
        bin_dir: PathBuf,
    },
    /// Medians of every CSV in <results> into summary.csv and fanout.svg.
    Plot {
        /// Results directory.
        #[arg(long, default_value_os_t = results_dir())]
        results: PathBuf,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Scenarios: all, fanout, fanout-10, fanout-100, fanout-500, fanout-1000, meeting-10x10,
    /// rooms-50x5 (comma separated).
    #[arg(long, default_value = "all", value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Repetitions of the whole set (medians are taken over them).
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// Number of the first run (to continue a series in the same CSV).
    #[arg(long, default_value_t = 1)]
    first_run: u32,
    /// Joins per second.
    #[arg(long, default_value_t = 50.0)]
    ramp: f64,
    /// Measurement window, seconds.
    #[arg(long, default_value_t = 15.0)]
    window: f64,
    /// Results directory.
    #[arg(long, default_value_os_t = results_dir())]
    results: PathBuf,
    /// Directory of the release binaries (openchatd, rtc-joiner).
    #[arg(long, default_value_os_t = workspace_dir().join("target/release"))]
    bin_dir: PathBuf,
    /// The load clients' WebRTC stack (`rtc-joiner load --engine`), for every target.
    #[arg(long, value_enum, default_value_t = Engine::Str0m)]
    engine: Engine,
}

#[derive(clap::Args)]
struct JanusLoadArgs {
    #[arg(long)]
    api: String,
    #[arg(long)]
    joiners: usize,
    #[arg(long)]
    publishers: usize,
    #[arg(long)]
    rooms: usize,
    #[arg(long)]
    ramp: f64,
    #[arg(long)]
    duration: f64,
    #[arg(long)]
    settle: f64,
    #[arg(long)]
    server_pid: Option<u32>,
    /// Accepted for symmetry with `rtc-joiner load`; the output is always JSON.
    #[arg(long)]
    json: bool,
    /// The clients' WebRTC stack (as `rtc-joiner load --engine`).
    #[arg(long, value_enum, default_value_t = Engine::Str0m)]
    engine: Engine,
    /// Hub threads of the str0m engine.
    #[arg(long, default_value_t = 1)]
    media_threads: usize,
    /// Publishers also send a camera from these files (simulcast, lowest first; webrtc-rs
    /// engine).
    #[arg(long = "video")]
    video: Vec<PathBuf>,
    /// The simulcast layer subscribers ask Janus for (0 lowest).
    #[arg(long, default_value_t = 1)]
    substream: u8,
}

fn workspace_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn results_dir() -> PathBuf {
    workspace_dir().join("bench/results")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Openchatd { run, workers } => run_openchatd(&run, workers).await,
        Command::Compare { run } => run_compare(&run).await,
        Command::JanusLoad(args) => janus_load(args).await,
        Command::Plot { results } => plot_results(&results),
        Command::Moderation {
            actions,
            runs,
            results,
            bin_dir,
        } => moderation::run(&bin_dir, &results, actions, runs).await,
    }
}

async fn janus_load(args: JanusLoadArgs) -> anyhow::Result<()> {
    use std::time::Duration;
    anyhow::ensure!(
        args.publishers == args.rooms,
        "the Janus adapter runs one publisher per room"
    );
    let plan = rtc_joiner::load::LoadPlan {
        target: args.api.clone(),
        joiners: args.joiners,
        publishers: args.publishers,
        rooms: args.rooms,
        ramp_per_sec: args.ramp,
        settle: Duration::from_secs_f64(args.settle),
        window: Duration::from_secs_f64(args.duration),
        connect_timeout: Duration::from_secs(30),
        server_pid: args.server_pid,
        metrics_url: None,
        progress: true,
    };
    let hub = janus::api::Hub::create(&args.api).await?;
    let clip = rtc_joiner::load::openchat::load_tone(440.0);
    let video = if args.video.is_empty() {
        None
    } else {
        let input = rtc_joiner::cli::VideoInput {
            camera: args.video.clone(),
            screen: None,
            h264_fps: 30,
        };
        Some(janus::client::JanusVideo {
            tracks: rtc_joiner::video::load_tracks(&input)?,
            substream: args.substream,
        })
    };
    let engine = if video.is_some() {
        Engine::WebrtcRs
    } else {
        args.engine
    };
    let client: std::sync::Arc<dyn rtc_joiner::load::LoadClient> = match engine {
        Engine::WebrtcRs => std::sync::Arc::new(janus::client::JanusClient { hub, clip, video }),
        Engine::Str0m => std::sync::Arc::new(janus::client::LightJanusClient {
            hub,
            hubs: rtc_joiner::load::light::HubPool::start(
                args.media_threads,
                std::net::Ipv4Addr::LOCALHOST.into(),
                rtc_joiner::load::light::EncodedClip::encode(&clip)?,
            )?,
        }),
    };
    let summary = rtc_joiner::load::run_load(&plan, client).await;
    println!("{}", summary.to_json());
    Ok(())
}

/// One scenario against each target in turn, run after run: ratios come from one run.
async fn run_compare(args: &RunArgs) -> anyhow::Result<()> {
    let scenarios: Vec<_> = scenario::select(&args.scenarios)
        .into_iter()
        .filter(|s| s.publishers == s.rooms)
        .collect();
    anyhow::ensure!(!scenarios.is_empty(), "no fan-out scenario selected");
    std::fs::create_dir_all(&args.results)?;
    machine::write(&args.results)?;
    let clips = video_clips(&scenarios)?;
    let timing = load::Timing {
        ramp: args.ramp,
        window: args.window,
        settle: 3.0,
        engine: args.engine,
    };
    for run in args.first_run..args.first_run + args.runs {
        for s in &scenarios {
            eprintln!("== run {run}: openchatd {}", s.name);
            let server = openchatd::Openchatd::start(&args.bin_dir.join("openchatd"), 1).await?;
            let summary = load::run_openchat(
                &args.bin_dir.join("rtc-joiner"),
                &server.url(),
                server.pid(),
                s,
                timing,
                &clips,
            )
            .await?;
            drop(server);
            record(&args.results, run, "openchatd", s, &summary)?;
            for flavor in [janus::server::Flavor::Default, janus::server::Flavor::Tuned] {
                eprintln!("== run {run}: {} {}", flavor.target(), s.name);
                let janus = janus::server::Janus::start(flavor, s.rooms).await?;
                let summary = load::run_janus(&janus.api, janus.pid(), s, timing, &clips).await?;
                drop(janus);
                record(&args.results, run, flavor.target(), s, &summary)?;
            }
        }
    }
    plot_results(&args.results)
}

async fn run_openchatd(args: &RunArgs, workers: u32) -> anyhow::Result<()> {
    let scenarios = scenario::select(&args.scenarios);
    anyhow::ensure!(!scenarios.is_empty(), "no scenario selected");
    std::fs::create_dir_all(&args.results)?;
    machine::write(&args.results)?;
    let csv = args.results.join("openchatd.csv");
    let clips = video_clips(&scenarios)?;
    let server_bin = args.bin_dir.join("openchatd");
    let joiner_bin = args.bin_dir.join("rtc-joiner");
    let timing = load::Timing {
        ramp: args.ramp,
        window: args.window,
        settle: 3.0,
        engine: args.engine,
    };
    for run in args.first_run..args.first_run + args.runs {
        for s in &scenarios {
            eprintln!("== run {run}: openchatd {}", s.name);
            let server = openchatd::Openchatd::start(&server_bin, workers).await?;
            let summary =
                load::run_openchat(&joiner_bin, &server.url(), server.pid(), s, timing, &clips)
                    .await
                    .with_context(|| format!("scenario {}", s.name))?;
            drop(server);
            let row = load::row(run, "openchatd", s, &summary);
            eprintln!("   {}", row.to_csv());
            results::append(&csv, &[row])?;
            if s.video {
                record_video(&args.results, run, "openchatd", s, &summary)?;
            }
        }
    }
    plot_results(&args.results)
}

/// The video clips, when a selected scenario sends video.
fn video_clips(scenarios: &[scenario::Scenario]) -> anyhow::Result<Vec<PathBuf>> {
    if scenarios.iter().any(|s| s.video) {
        clips::ensure_clips(&workspace_dir().join("target/bench-clips"))
    } else {
        Ok(Vec::new())
    }
}

/// A comparison run's rows: `compare.csv`, and `video.csv` for a video scenario.
fn record(
    results: &std::path::Path,
    run: u32,
    target: &str,
    s: &scenario::Scenario,
    summary: &serde_json::Value,
) -> anyhow::Result<()> {
    results::append(
        &results.join("compare.csv"),
        &[load::row(run, target, s, summary)],
    )?;
    if s.video {
        record_video(results, run, target, s, summary)?;
    }
    Ok(())
}

fn record_video(
    results: &std::path::Path,
    run: u32,
    target: &str,
    s: &scenario::Scenario,
    summary: &serde_json::Value,
) -> anyhow::Result<()> {
    let line = video_results::line(run, target, s.name, summary, clips::RENDER_SIZE);
    eprintln!("   video: {line}");
    video_results::append(&results.join("video.csv"), &line)
}

fn plot_results(dir: &std::path::Path) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for name in ["openchatd.csv", "compare.csv"] {
        let path = dir.join(name);
        if path.exists() {
            rows.extend(results::read(&path)?);
        }
    }
    let compare = dir.join("compare.csv");
    if compare.exists() {
        std::fs::write(
            dir.join("ratios.csv"),
            ratios::csv(&results::read(&compare)?),
        )?;
    }
    let medians = results::medians(&rows);
    let summary = dir.join("summary.csv");
    let _ = std::fs::remove_file(&summary);
    results::append(&summary, &medians)?;
    let machine = machine::describe();
    plot::draw(&medians, &machine, &dir.join("fanout.svg"))?;
    eprintln!(
        "wrote {} and {}",
        summary.display(),
        dir.join("fanout.svg").display()
    );
    Ok(())
}
