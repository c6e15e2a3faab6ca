//! The load engine: ramps joiners up, waits for them to connect, measures a window, stops them
//! and aggregates their reports. It is generic over [`LoadClient`], so the same engine drives
//! `openchatd` ([`OpenChatClient`](super::OpenChatClient)) or another SFU through an adapter.

use super::percentile::LatencyMs;
use super::probe::{JoinProbe, LoadProbe};
use super::procfs::{self, ProcSample};
use super::progress::{Progress, spawn_progress};
use super::server_metrics::ServerMetrics;
use super::summary::{JoinCounts, LoadSummary, PacketCounts, ServerUsage, Window};
use super::video_summary::VideoLoad;
use crate::{JoinerError, Summary};
use reqwest::Url;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long stopped joiners get to leave before they are abandoned.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// One joiner's place in the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// 0-based joiner index (joiners start in this order).
    pub index: usize,
    /// 0-based room index.
    pub room: usize,
    /// Whether this joiner publishes audio.
    pub publishes: bool,
}

/// Joiner `index` of a run with `rooms` rooms and `publishers` publishers: rooms round-robin,
/// the first `publishers` joiners publish (so talkers are in place before listeners arrive).
pub fn slot(index: usize, rooms: usize, publishers: usize) -> Slot {
    Slot {
        index,
        room: index % rooms.max(1),
        publishes: index < publishers,
    }
}

/// A joiner's run: joins, streams or listens until `stop` turns true, then leaves.
pub type JoinFuture = Pin<Box<dyn Future<Output = Result<Summary, JoinerError>> + Send>>;

/// Something that can join a room as one simulated client.
pub trait LoadClient: Send + Sync + 'static {
    /// Starts one joiner. It must report to `probe` (see [`JoinProbe`]) and stop when `stop`
    /// turns true.
    fn join(&self, slot: Slot, probe: JoinProbe, stop: watch::Receiver<bool>) -> JoinFuture;
}

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// Label of the target (e.g. its URL).
    pub target: String,
    /// Joiners to start.
    pub joiners: usize,
    /// Of which publishing.
    pub publishers: usize,
    /// Rooms to spread them over.
    pub rooms: usize,
    /// Joins per second.
    pub ramp_per_sec: f64,
    /// Pause between the last connection and the window.
    pub settle: Duration,
    /// Length of the measurement window.
    pub window: Duration,
    /// Longest wait for the joiners to connect after the ramp.
    pub connect_timeout: Duration,
    /// Server process to measure (CPU, RSS).
    pub server_pid: Option<u32>,
    /// Prometheus endpoint with `openchat_sfu_packets_forwarded_total`.
    pub metrics_url: Option<Url>,
    /// Show live progress on stderr.
    pub progress: bool,
}

type Outcomes = Arc<Mutex<Vec<Result<Summary, JoinerError>>>>;

/// Runs the plan to the end (every phase is bounded) and reports.
pub async fn run_load(plan: &LoadPlan, client: Arc<dyn LoadClient>) -> LoadSummary {
    let probe = Arc::new(LoadProbe::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let server_pid = plan.server_pid.map(|p| p.to_string());
    let server_before = server_pid.as_deref().and_then(procfs::sample);
    let outcomes: Outcomes = Arc::default();
    let progress = Progress::new(plan.joiners);
    let progress_task = plan
        .progress
        .then(|| spawn_progress(progress.clone(), probe.clone(), stop_rx.clone()));

    // Ramp.
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(plan.joiners);
    for index in 0..plan.joiners {
        let due = start + Duration::from_secs_f64(index as f64 / plan.ramp_per_sec.max(0.01));
        tokio::time::sleep_until(due).await;
        let fut = client.join(
            slot(index, plan.rooms, plan.publishers),
            JoinProbe::new(probe.clone()),
            stop_rx.clone(),
        );
        let outcomes = outcomes.clone();
        let progress = progress.clone();
        progress.started.fetch_add(1, Ordering::Relaxed);
        tasks.push(tokio::spawn(async move {
            let result = fut.await;
            if result.is_err() {
                progress.failed.fetch_add(1, Ordering::Relaxed);
            }
            lock(&outcomes).push(result);
        }));
    }
    progress.set_phase("connecting");

    // Wait for every joiner to connect or fail.
    let deadline = tokio::time::Instant::now() + plan.connect_timeout;
    while tokio::time::Instant::now() < deadline {
        let done =
            probe.media_connected.load(Ordering::Relaxed) + progress.failed.load(Ordering::Relaxed);
        if done >= plan.joiners as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    progress.set_phase("settling");
    tokio::time::sleep(plan.settle).await;

    // Measurement window.
    progress.set_phase("measuring");
    let window = measure_window(plan, &probe, server_pid.as_deref(), server_before).await;

    // Stop and collect.
    progress.set_phase("leaving");
    stop_tx.send_replace(true);
    let grace = tokio::time::Instant::now() + STOP_GRACE;
    for task in tasks {
        let abort = task.abort_handle();
        if tokio::time::timeout_at(grace, task).await.is_err() {
            abort.abort();
        }
    }
    if let Some(task) = progress_task {
        let _ = task.await;
    }
    let outcomes = std::mem::take(&mut *lock(&outcomes));
    summarize(plan, &probe, outcomes, window)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Opens the window, sleeps through it and reads every counter at both ends.
async fn measure_window(
    plan: &LoadPlan,
    probe: &LoadProbe,
    server_pid: Option<&str>,
    server_before: Option<ProcSample>,
) -> Window {
    let metrics_0 = scrape(plan.metrics_url.as_ref()).await;
    let own_0 = procfs::sample("self");
    let server_0 = server_pid.and_then(procfs::sample);
    let t0 = Instant::now();
    probe.set_window(true);
    tokio::time::sleep(plan.window).await;
    probe.set_window(false);
    let seconds = t0.elapsed().as_secs_f64();
    let own_1 = procfs::sample("self");
    let server_1 = server_pid.and_then(procfs::sample);
    let metrics_1 = scrape(plan.metrics_url.as_ref()).await;
    let forwarded_0 = metrics_0.as_ref().and_then(|m| m.forwarded);
    let forwarded_1 = metrics_1.as_ref().and_then(|m| m.forwarded);
    let server_keyframe_requests = match (&metrics_0, &metrics_1) {
        (Some(a), Some(b)) => match (a.keyframe_requests_sent, b.keyframe_requests_sent) {
            (Some(x), Some(y)) => Some(y.saturating_sub(x)),
            _ => None,
        },
        _ => None,
    };
    let server_forward_latency_ms = match (&metrics_0, &metrics_1) {
        (Some(a), Some(b)) => b.latency_since(a),
        _ => None,
    };

    let packets_received = probe.window_packets_received.load(Ordering::Relaxed);
    let video_packets_received = probe.window_video_packets_received.load(Ordering::Relaxed);
    let video_bytes_received = probe.window_video_bytes_received.load(Ordering::Relaxed);
    let load_cpu_secs = match (own_0, own_1) {
        (Some(a), Some(b)) => b.cpu.saturating_sub(a.cpu).as_secs_f64(),
        _ => 0.0,
    };
    let server = match (server_pid, server_0, server_1) {
        (Some(pid), Some(a), Some(b)) => {
            let cpu_secs = b.cpu.saturating_sub(a.cpu).as_secs_f64();
            let forwarded = match (forwarded_0, forwarded_1) {
                (Some(x), Some(y)) => Some(y.saturating_sub(x)),
                _ => None,
            };
            let rss_before = server_before.map_or(a.rss_bytes, |s| s.rss_bytes);
            let per = |n: u64| (n > 0).then(|| cpu_secs * 1e6 / n as f64);
            Some(ServerUsage {
                pid: pid.parse().unwrap_or(0),
                cpu_secs,
                cpu_percent: cpu_secs / seconds * 100.0,
                rss_before_bytes: rss_before,
                rss_after_bytes: b.rss_bytes,
                rss_per_participant_bytes: b.rss_bytes.saturating_sub(rss_before) as f64
                    / plan.joiners.max(1) as f64,
                forwarded_packets: forwarded,
                cpu_us_per_forwarded_packet: forwarded.and_then(per),
                cpu_us_per_received_packet: per(packets_received + video_packets_received),
            })
        }
        _ => None,
    };
    Window {
        seconds,
        packets_received,
        video_packets_received,
        video_bytes_received,
        load_cpu_secs,
        load_cpu_percent: load_cpu_secs / seconds * 100.0,
        server,
        server_forward_latency_ms,
        server_keyframe_requests,
    }
}

/// Scrapes the server's Prometheus endpoint.
async fn scrape(url: Option<&Url>) -> Option<ServerMetrics> {
    let text = reqwest::get(url?.clone()).await.ok()?.text().await.ok()?;
    Some(ServerMetrics::parse(&text))
}

fn summarize(
    plan: &LoadPlan,
    probe: &LoadProbe,
    outcomes: Vec<Result<Summary, JoinerError>>,
    window: Window,
) -> LoadSummary {
    let mut joins = JoinCounts {
        attempted: plan.joiners as u64,
        media_connected: probe.media_connected.load(Ordering::Relaxed),
        first_audio: probe.first_audio.load(Ordering::Relaxed),
        ..JoinCounts::default()
    };
    let (mut lost, mut received, mut jitters) = (0u64, 0u64, Vec::new());
    let mut video = VideoLoad::default();
    let finished = outcomes.len() as u64;
    for outcome in outcomes {
        match outcome {
            Ok(summary) => {
                video.add(&summary);
                for r in summary.received {
                    lost += r.packets_lost;
                    received += r.packets_received;
                    jitters.push(r.jitter_ms);
                }
            }
            Err(err) => {
                joins.failed += 1;
                *joins
                    .failures_by_code
                    .entry(err.code().to_owned())
                    .or_default() += 1;
            }
        }
    }
    let abandoned = (plan.joiners as u64).saturating_sub(finished);
    if abandoned > 0 {
        joins.failed += abandoned;
        joins
            .failures_by_code
            .insert("did_not_stop".into(), abandoned);
    }
    let jitter_mean_ms = if jitters.is_empty() {
        0.0
    } else {
        jitters.iter().sum::<f64>() / jitters.len() as f64
    };
    LoadSummary {
        target: plan.target.clone(),
        joiners: plan.joiners,
        publishers: plan.publishers,
        rooms: plan.rooms,
        ramp_per_sec: plan.ramp_per_sec,
        joins,
        join_latency_ms: LatencyMs::from_ms(probe.join_ms()),
        e2e_latency_ms: LatencyMs::from_us(probe.take_e2e_us()),
        e2e_unmatched: probe.unmatched.load(Ordering::Relaxed),
        packets: PacketCounts {
            sent: probe.packets_sent.load(Ordering::Relaxed),
            received: probe.packets_received.load(Ordering::Relaxed),
            lost,
            loss_percent: if received + lost > 0 {
                lost as f64 * 100.0 / (received + lost) as f64
            } else {
                0.0
            },
            jitter_mean_ms,
            jitter_max_ms: jitters.iter().copied().fold(0.0, f64::max),
        },
        window,
        video: (!video.is_empty()).then_some(video),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_spread_rooms_and_put_publishers_first() {
        let s: Vec<Slot> = (0..6).map(|i| slot(i, 3, 3)).collect();
        assert_eq!(
            s.iter().map(|s| s.room).collect::<Vec<_>>(),
            [0, 1, 2, 0, 1, 2]
        );
        assert_eq!(s.iter().filter(|s| s.publishes).count(), 3);
        assert!(s[..3].iter().all(|s| s.publishes));
        assert_eq!(slot(5, 0, 0).room, 0, "zero rooms means one");
    }
}
