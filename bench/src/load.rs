//! Runs `rtc-joiner load` against a target and turns its JSON summary into a result row.

use crate::results::Row;
use crate::scenario::Scenario;
use anyhow::{Context, bail};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// Timing of every load run.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Joins per second.
    pub ramp: f64,
    /// Measurement window, seconds.
    pub window: f64,
    /// Settle time before the window, seconds.
    pub settle: f64,
    /// The load clients' WebRTC stack.
    pub engine: rtc_joiner::load::cli::Engine,
}

/// Runs the load process for `scenario` against `backend` (server `pid`) and waits for it.
/// Video scenarios send `clips` (lowest first) from every publisher, in the video room.
pub async fn run_openchat(
    rtc_joiner: &Path,
    backend: &str,
    pid: u32,
    scenario: &Scenario,
    timing: Timing,
    clips: &[PathBuf],
) -> anyhow::Result<Value> {
    let mut cmd = tokio::process::Command::new(rtc_joiner);
    cmd.arg("load").args(["--backend-url", backend]);
    if scenario.video {
        cmd.args(["--channel-id", "vc_video"])
            .args(crate::clips::video_flags(clips))
            .args(["--render-size", crate::clips::RENDER_SIZE]);
    }
    run_load_process(cmd, pid, scenario, timing).await
}

/// Runs `bench janus-load` (this binary) against a Janus HTTP API.
pub async fn run_janus(
    api: &str,
    pid: u32,
    scenario: &Scenario,
    timing: Timing,
    clips: &[PathBuf],
) -> anyhow::Result<Value> {
    let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
    cmd.arg("janus-load").args(["--api", api]);
    if scenario.video {
        // The middle simulcast layer, as the openchatd subscribers' render size asks.
        cmd.args(crate::clips::video_flags(clips))
            .args(["--substream", "1"]);
    }
    run_load_process(cmd, pid, scenario, timing).await
}

/// The load flags both load processes share; runs `cmd` with them and parses its JSON summary.
async fn run_load_process(
    mut cmd: tokio::process::Command,
    pid: u32,
    scenario: &Scenario,
    timing: Timing,
) -> anyhow::Result<Value> {
    cmd.args(["--joiners", &scenario.joiners.to_string()])
        .args(["--publishers", &scenario.publishers.to_string()])
        .args(["--rooms", &scenario.rooms.to_string()])
        .args(["--ramp", &timing.ramp.to_string()])
        .args(["--duration", &timing.window.to_string()])
        .args(["--settle", &timing.settle.to_string()])
        .args(["--server-pid", &pid.to_string()])
        .args([
            "--engine",
            // Only the webrtc-rs client engine sends and receives video.
            &engine_flag(if scenario.video {
                rtc_joiner::load::cli::Engine::WebrtcRs
            } else {
                timing.engine
            }),
        ])
        .arg("--json")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    // Bounded: ramp + connect + settle + window + leave, with room to spare.
    let limit = Duration::from_secs_f64(
        f64::from(scenario.joiners) / timing.ramp + 30.0 + timing.settle + timing.window + 60.0,
    );
    let child = cmd.spawn().context("starting rtc-joiner load")?;
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .context("rtc-joiner load did not finish in time")??;
    if !output.status.success() {
        bail!("rtc-joiner load failed: {}", output.status);
    }
    serde_json::from_slice(&output.stdout).context("parsing the load summary")
}

/// The `--engine` value clap accepts for `engine` (one source of truth: its `ValueEnum`).
fn engine_flag(engine: rtc_joiner::load::cli::Engine) -> String {
    use clap::ValueEnum;
    engine
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}

fn f(v: &Value, path: &[&str]) -> Option<f64> {
    let mut v = v;
    for key in path {
        v = v.get(key)?;
    }
    v.as_f64()
}

/// A result row from a load summary.
pub fn row(run: u32, target: &str, scenario: &Scenario, summary: &Value) -> Row {
    let server = |k: &str| f(summary, &["window", "server", k]);
    Row {
        run,
        target: target.to_owned(),
        scenario: scenario.name.to_owned(),
        joiners: scenario.joiners,
        publishers: scenario.publishers,
        rooms: scenario.rooms,
        listeners: scenario.listeners(),
        window_s: f(summary, &["window", "seconds"]),
        forwarded_packets: server("forwarded_packets"),
        // Audio and video alike (the CPU per received packet divides by both).
        received_packets: f(summary, &["window", "packets_received"])
            .map(|audio| audio + f(summary, &["window", "video_packets_received"]).unwrap_or(0.0)),
        server_cpu_percent: server("cpu_percent"),
        server_us_per_fwd_packet: server("cpu_us_per_forwarded_packet"),
        server_us_per_rx_packet: server("cpu_us_per_received_packet"),
        e2e_p50_ms: f(summary, &["e2e_latency_ms", "p50"]),
        e2e_p99_ms: f(summary, &["e2e_latency_ms", "p99"]),
        join_p50_ms: f(summary, &["join_latency_ms", "p50"]),
        join_p99_ms: f(summary, &["join_latency_ms", "p99"]),
        loss_percent: f(summary, &["packets", "loss_percent"]),
        jitter_mean_ms: f(summary, &["packets", "jitter_mean_ms"]),
        rss_kib_per_participant: server("rss_per_participant_bytes").map(|b| b / 1024.0),
        load_cpu_percent: f(summary, &["window", "load_cpu_percent"]),
        connected: f(summary, &["joins", "media_connected"]),
        failed: f(summary, &["joins", "failed"]),
        fwd_p50_ms: f(summary, &["window", "server_forward_latency_ms", "p50"]),
        fwd_p99_ms: f(summary, &["window", "server_forward_latency_ms", "p99"]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc_joiner::load::cli::Engine;

    #[test]
    fn engine_flags_are_the_ones_rtc_joiner_accepts() {
        assert_eq!(engine_flag(Engine::Str0m), "str0m");
        assert_eq!(engine_flag(Engine::WebrtcRs), "webrtc-rs");
    }
}
