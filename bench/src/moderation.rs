//! `bench moderation`: how long a moderator's server mute takes to stop a live talker's media.
//!
//! A fresh release `openchatd` (development mode), two `rtc-joiner` processes in `vc_general`
//! (one sends a 440 Hz tone, one listens), and the seed's owner muting and unmuting the talker
//! through `/v1/moderation/...` `--actions` times. For each mute the harness polls the server's
//! forwarded-packet counter every 2 ms from the moment it sends the request: the enforcement
//! latency is the time from the request to the last packet forwarded (the counter's last move
//! before it stays still for 300 ms), and the same from the API's answer (0 when media had
//! already stopped when the answer arrived). The talker sends a packet every 20 ms, so a figure
//! is the moment of the last packet that got through, up to 20 ms before the mute took effect.
//! Prints p50/p90/p99/max and appends one row per run to `<results>/moderation.csv`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};

use crate::openchatd::Openchatd;

/// How long the counter must stay still for a mute to count as enforced.
const STILL: Duration = Duration::from_millis(300);
/// How often the counter is read.
const POLL: Duration = Duration::from_millis(2);

/// An `rtc-joiner` process, killed on drop.
struct Joiner(Child);

impl Drop for Joiner {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn joiner(bin_dir: &Path, base: &str, user: &str, tone: bool) -> anyhow::Result<Joiner> {
    let mut command = Command::new(bin_dir.join("rtc-joiner"));
    command
        .args(["--backend-url", base, "--channel-id", "vc_general"])
        .args(["--user", user, "--duration", "3600"]);
    if tone {
        command.args(["--tone-hz", "440"]);
    }
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting rtc-joiner in {}", bin_dir.display()))?;
    Ok(Joiner(child))
}

async fn forwarded(http: &reqwest::Client, base: &str) -> anyhow::Result<u64> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    text.lines()
        .find_map(|l| l.strip_prefix("openchat_sfu_packets_forwarded_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
        .context("no forwarded-packet counter on /metrics")
}

async fn post(
    http: &reqwest::Client,
    url: String,
    token: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let answer = http.post(url).bearer_auth(token).json(&body).send().await?;
    let status = answer.status();
    let body: Value = answer.json().await?;
    ensure!(status.is_success(), "{status}: {body}");
    Ok(body)
}

/// Waits until the counter grows by `at_least`.
async fn flowing(http: &reqwest::Client, base: &str, at_least: u64) -> anyhow::Result<()> {
    let start = forwarded(http, base).await?;
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        if forwarded(http, base).await? >= start + at_least {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("the talker's packets are not forwarded")
}

/// One mute: (from the request, from the answer) to the last forwarded packet.
async fn one_mute(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    case_id: &str,
) -> anyhow::Result<(Duration, Duration)> {
    let url = format!("{base}/v1/moderation/cases/{case_id}/actions/immediate");
    let mut last = forwarded(http, base).await?;
    let sent = Instant::now();
    let request = post(http, url, token, json!({"action": {"kind": "mute"}}));
    tokio::pin!(request);
    let mut answered: Option<Instant> = None;
    let mut last_move = sent;
    let end = sent + Duration::from_secs(10);
    loop {
        tokio::select! {
            result = &mut request, if answered.is_none() => {
                result?;
                answered = Some(Instant::now());
            }
            _ = tokio::time::sleep(POLL) => {
                let now = forwarded(http, base).await?;
                if now != last {
                    last = now;
                    last_move = Instant::now();
                } else if answered.is_some() && last_move.elapsed() >= STILL {
                    break;
                }
                ensure!(Instant::now() < end, "media still flows 10 s after the mute");
            }
        }
    }
    let answered = answered.unwrap_or(sent);
    Ok((
        last_move.saturating_duration_since(sent),
        last_move.saturating_duration_since(answered),
    ))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Runs `actions` mute/unmute cycles `runs` times and appends the figures to `results`.
pub async fn run(bin_dir: &Path, results: &Path, actions: u32, runs: u32) -> anyhow::Result<()> {
    std::fs::create_dir_all(results)?;
    let csv: PathBuf = results.join("moderation.csv");
    let new_file = !csv.exists();
    let mut rows = String::new();
    if new_file {
        rows.push_str(
            "unix_time,run,actions,from_request_p50_ms,from_request_p90_ms,from_request_p99_ms,\
             from_request_max_ms,after_answer_p50_ms,after_answer_p99_ms\n",
        );
    }
    for run in 1..=runs {
        let server = Openchatd::start(&bin_dir.join("openchatd"), 1).await?;
        let base = server.url();
        let http = reqwest::Client::new();
        let _liz = joiner(bin_dir, &base, "liz", false)?;
        let _tom = joiner(bin_dir, &base, "tom", true)?;
        flowing(&http, &base, 100).await?;
        let token: Value = http
            .post(format!("{base}/v1/dev/token"))
            .json(&json!({"user_id": "dev-owner"}))
            .send()
            .await?
            .json()
            .await?;
        let token = token["access_token"]
            .as_str()
            .context("a dev token")?
            .to_owned();
        let case = post(
            &http,
            format!("{base}/v1/moderation/cases"),
            &token,
            json!({"server_id": "srv_harbor", "target_user_id": "tom", "reason": "bench"}),
        )
        .await?;
        let case_id = case["case_id"].as_str().context("case id")?.to_owned();
        let mut from_request = Vec::new();
        let mut after_answer = Vec::new();
        for _ in 0..actions {
            let (request, answer) = one_mute(&http, &base, &token, &case_id).await?;
            from_request.push(request.as_secs_f64() * 1000.0);
            after_answer.push(answer.as_secs_f64() * 1000.0);
            post(
                &http,
                format!("{base}/v1/moderation/cases/{case_id}/actions/immediate"),
                &token,
                json!({"action": {"kind": "unmute"}}),
            )
            .await?;
            flowing(&http, &base, 10).await?;
        }
        from_request.sort_by(f64::total_cmp);
        after_answer.sort_by(f64::total_cmp);
        // p50, p90, p99, max from the request; p50, p99 after the answer.
        let figures = [
            percentile(&from_request, 50.0),
            percentile(&from_request, 90.0),
            percentile(&from_request, 99.0),
            percentile(&from_request, 100.0),
            percentile(&after_answer, 50.0),
            percentile(&after_answer, 99.0),
        ];
        let [r50, r90, r99, rmax, a50, a99] = figures;
        println!(
            "run {run}: {actions} mutes; request -> last forwarded packet p50 {r50:.1} ms, p90 \
             {r90:.1}, p99 {r99:.1}, max {rmax:.1}; after the API's answer p50 {a50:.1} ms, p99 \
             {a99:.1}"
        );
        let unix_time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let cells: Vec<String> = figures.iter().map(|f| format!("{f:.1}")).collect();
        rows.push_str(&format!(
            "{unix_time},{run},{actions},{}\n",
            cells.join(",")
        ));
        drop(server);
    }
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&csv)?
        .write_all(rows.as_bytes())?;
    crate::machine::write(results)?;
    Ok(())
}
