//! `rtc-joiner`: one joiner from the command line, or many with `rtc-joiner load ...`.
//! See the library docs for the details.

use anyhow::Context;
use clap::Parser;
use rtc_joiner::load::LoadCli;
use rtc_joiner::{
    ACCESS_REMOVED_CODES, Cli, EXIT_ACCESS_REMOVED, EXIT_SERVER_GOING_AWAY, Joiner, JoinerError,
};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "load") {
        args.remove(1);
        return load_main(LoadCli::parse_from(args));
    }
    let cli = Cli::parse_from(args);
    let json = cli.json;
    if let Err(err) = init_logging(&cli.log_level) {
        eprintln!("error: invalid --log-level: {err:#}");
        return ExitCode::from(2);
    }
    // Flag errors print clap's message and exit with status 2.
    let config = cli.into_config().unwrap_or_else(|err| err.exit());

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("interrupted; leaving");
    };
    match runtime.block_on(Joiner::new(config).run(shutdown)) {
        Ok(summary) => {
            if json {
                println!("{}", summary.to_json());
            } else {
                print!("{summary}");
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            // e.g. "error: not_a_member: you are not a member of srv_harbor"
            eprintln!("error: {}", with_causes(&err));
            if json {
                println!(
                    "{}",
                    serde_json::json!({"error": {"code": err.code(), "message": err.to_string()}})
                );
            }
            if matches!(err, JoinerError::ServerGoingAway { .. }) {
                return ExitCode::from(EXIT_SERVER_GOING_AWAY);
            }
            if ACCESS_REMOVED_CODES.contains(&err.code()) {
                return ExitCode::from(EXIT_ACCESS_REMOVED);
            }
            ExitCode::FAILURE
        }
    }
}

/// `rtc-joiner load`: runs the load and prints its summary (JSON with `--json`).
fn load_main(cli: LoadCli) -> ExitCode {
    if let Err(err) = init_logging(&cli.log_level) {
        eprintln!("error: invalid --log-level: {err:#}");
        return ExitCode::from(2);
    }
    if let Err(err) = cli.plan() {
        eprintln!("error: {err}");
        return ExitCode::from(2);
    }
    let json = cli.json;
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli.run()) {
        Ok(summary) => {
            if json {
                println!("{}", summary.to_json());
            } else {
                print!("{summary}");
            }
            // Joiners abandoned at the end must not keep the process alive.
            runtime.shutdown_timeout(std::time::Duration::from_secs(2));
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {}", with_causes(&err));
            ExitCode::FAILURE
        }
    }
}

/// A bare level (`info`, `debug`...) applies to this tool; other crates (webrtc-rs logs a lot)
/// stay at `warn`. Full tracing directives (`info,webrtc=debug`) are used as given.
fn init_logging(level: &str) -> anyhow::Result<()> {
    let directives = match level.trim().to_ascii_lowercase().as_str() {
        // rtc_dtls warns about a missing server name on every client handshake.
        "error" => "error".to_owned(),
        bare @ ("warn" | "info" | "debug" | "trace") => {
            format!("warn,rtc_dtls=error,rtc_joiner={bare}")
        }
        _ => level.to_owned(),
    };
    let filter = EnvFilter::try_new(&directives).with_context(|| format!("{level:?}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init()
        .map_err(|err| anyhow::anyhow!(err))
}

/// The error followed by its causes (e.g. reqwest's "connection refused").
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
