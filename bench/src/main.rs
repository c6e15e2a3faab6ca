//! `bench`: the OpenChat benchmark harness (issue 4). See `bench/README.md`.
//!
//! - `bench openchatd`: each scenario against a fresh release `openchatd`, driven by
//!   `rtc-joiner load` in another process; one CSV row per run in `bench/results/openchatd.csv`.
//! - `bench plot`: medians of every CSV in `bench/results/` into `summary.csv` and `fanout.svg`.
//!
//! Everything runs on loopback and every phase is bounded.

mod load;
mod machine;
mod openchatd;
mod plot;
mod results;
mod scenario;

use anyhow::Context;
use clap::{Parser, Subcommand};
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
        Command::Plot { results } => plot_results(&results),
    }
}

async fn run_openchatd(args: &RunArgs, workers: u32) -> anyhow::Result<()> {
    let scenarios = scenario::select(&args.scenarios);
    anyhow::ensure!(!scenarios.is_empty(), "no scenario selected");
    std::fs::create_dir_all(&args.results)?;
    machine::write(&args.results)?;
    let csv = args.results.join("openchatd.csv");
    let server_bin = args.bin_dir.join("openchatd");
    let joiner_bin = args.bin_dir.join("rtc-joiner");
    let timing = load::Timing {
        ramp: args.ramp,
        window: args.window,
        settle: 3.0,
    };
    for run in 1..=args.runs {
        for s in &scenarios {
            eprintln!("== run {run}/{}: openchatd {}", args.runs, s.name);
            let server = openchatd::Openchatd::start(&server_bin, workers).await?;
            let summary = load::run_openchat(&joiner_bin, &server.url(), server.pid(), s, timing)
                .await
                .with_context(|| format!("scenario {}", s.name))?;
            drop(server);
            let row = load::row(run, "openchatd", s, &summary);
            eprintln!("   {}", row.to_csv());
            results::append(&csv, &[row])?;
        }
    }
    plot_results(&args.results)
}

fn plot_results(dir: &std::path::Path) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for name in ["openchatd.csv", "janus.csv"] {
        let path = dir.join(name);
        if path.exists() {
            rows.extend(results::read(&path)?);
        }
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
