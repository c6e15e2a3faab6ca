//! Joins and leaves: `rooms x per_room` slots, each a loop that joins (rtc-joiner's light str0m
//! engine: dev token, join ticket, signaling WebSocket, DTLS-SRTP media on loopback), stays a
//! random time, leaves, pauses and joins again as the same user, until told to stop. The first
//! slot of each room publishes a tone and stays three times longer; the others listen.

use rand::{Rng, SeedableRng};
use rtc_joiner::load::light::{EncodedClip, HubPool, LightOpenChatClient};
use rtc_joiner::load::setup::Rooms;
use rtc_joiner::load::{JoinProbe, LoadClient, LoadProbe, Slot};
use rtc_joiner::signaling_client::ApiClient;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Longest wait from a join to its media connected (a failure past it).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a leaving joiner may take.
const LEAVE_GRACE: Duration = Duration::from_secs(20);

/// The churn's shape.
#[derive(Clone, Copy, Debug)]
pub struct ChurnPlan {
    /// Voice rooms.
    pub rooms: usize,
    /// Joiners per room at a time (the first publishes).
    pub per_room: usize,
    /// Shortest and longest stay of a listener (publishers: three times as long).
    pub stay: (Duration, Duration),
    /// Pause between a leave and the next join of the slot.
    pub pause: Duration,
}

/// What the joiners did, shared with the sampler and the report.
#[derive(Default)]
pub struct ChurnStats {
    /// Joins started.
    pub attempted: AtomicU64,
    /// Joins whose media connected.
    pub connected: AtomicU64,
    /// Joins that ended in an error (by code in `failures`).
    pub failed: AtomicU64,
    /// Joins cut by the end of the soak before their media connected (not failures).
    pub cut: AtomicU64,
    /// Joins that ended (left or failed).
    pub ended: AtomicU64,
    /// Listener sessions that stayed their full time.
    pub listener_sessions: AtomicU64,
    /// Of those, the ones that received audio.
    pub listener_heard: AtomicU64,
    /// RTP packets received by listeners.
    pub packets_received: AtomicU64,
    /// RTP packets listeners found missing (sequence gaps).
    pub packets_lost: AtomicU64,
    /// Failures by error code.
    pub failures: Mutex<BTreeMap<String, u64>>,
}

impl ChurnStats {
    /// Joins in progress or connected now.
    pub fn live(&self) -> u64 {
        let attempted = self.attempted.load(Ordering::Relaxed);
        attempted.saturating_sub(self.ended.load(Ordering::Relaxed))
    }

    /// Failures by code (a copy).
    pub fn failures(&self) -> BTreeMap<String, u64> {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn fail(&self, code: &str) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        *self
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(code.to_owned())
            .or_default() += 1;
    }
}

/// Starts every slot; they run until `stop` turns true. Join the set to wait for the leaves.
pub fn start(
    api: ApiClient,
    server_id: &str,
    rooms: &[String],
    run_id: &str,
    plan: ChurnPlan,
    stats: Arc<ChurnStats>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<JoinSet<()>> {
    let clip = rtc_joiner::load::openchat::load_tone(440.0);
    let hubs = HubPool::start(
        1,
        std::net::Ipv4Addr::LOCALHOST.into(),
        EncodedClip::encode(&clip)?,
    )?;
    let client = Arc::new(LightOpenChatClient {
        api,
        rooms: Rooms {
            server_id: server_id.to_owned(),
            channels: rooms.to_vec(),
        },
        run_id: run_id.to_owned(),
        hubs,
        connect_timeout: CONNECT_TIMEOUT,
    });
    let mut set = JoinSet::new();
    for index in 0..plan.rooms * plan.per_room {
        let slot = Slot {
            index,
            room: index % plan.rooms.max(1),
            publishes: index < plan.rooms,
        };
        set.spawn(slot_loop(
            client.clone(),
            slot,
            plan,
            stats.clone(),
            stop.clone(),
        ));
    }
    Ok(set)
}

/// One slot: join, stay, leave, pause, again.
async fn slot_loop(
    client: Arc<LightOpenChatClient>,
    slot: Slot,
    plan: ChurnPlan,
    stats: Arc<ChurnStats>,
    mut stop: watch::Receiver<bool>,
) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(slot.index as u64);
    // Publishers first; listeners spread over the first seconds.
    let first = if slot.publishes {
        Duration::ZERO
    } else {
        Duration::from_millis(1000 + rng.random_range(0..3000))
    };
    if sleep_or_stop(first, &mut stop).await {
        return;
    }
    let factor = if slot.publishes { 3 } else { 1 };
    loop {
        let stay = random_between(&mut rng, plan.stay.0 * factor, plan.stay.1 * factor);
        let stopped = session(&client, slot, stay, &stats, &mut stop).await;
        if stopped || sleep_or_stop(plan.pause, &mut stop).await {
            return;
        }
    }
}

/// One join. Returns whether the soak is over.
async fn session(
    client: &LightOpenChatClient,
    slot: Slot,
    stay: Duration,
    stats: &ChurnStats,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let probe = Arc::new(LoadProbe::default());
    let (leave, leave_rx) = watch::channel(false);
    stats.attempted.fetch_add(1, Ordering::Relaxed);
    let mut run = tokio::spawn(client.join(slot, JoinProbe::new(probe.clone()), leave_rx));
    let mut stopped = false;
    let early = tokio::select! {
        () = tokio::time::sleep(stay) => None,
        _ = stop.wait_for(|s| *s) => { stopped = true; None }
        outcome = &mut run => Some(outcome),
    };
    let full_stay = early.is_none() && !stopped;
    let outcome = match early {
        Some(outcome) => outcome,
        None => {
            leave.send_replace(true);
            let abort = run.abort_handle();
            match tokio::time::timeout(LEAVE_GRACE, run).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    abort.abort();
                    stats.fail("did_not_leave");
                    stats.ended.fetch_add(1, Ordering::Relaxed);
                    return stopped;
                }
            }
        }
    };
    let connected = probe.media_connected.load(Ordering::Relaxed) > 0;
    if connected {
        stats.connected.fetch_add(1, Ordering::Relaxed);
    }
    match outcome {
        Ok(Ok(summary)) => {
            if !connected {
                if full_stay {
                    stats.fail("media_not_connected");
                } else {
                    stats.cut.fetch_add(1, Ordering::Relaxed);
                }
            }
            let received: u64 = summary.received.iter().map(|r| r.packets_received).sum();
            let lost: u64 = summary.received.iter().map(|r| r.packets_lost).sum();
            stats
                .packets_received
                .fetch_add(received, Ordering::Relaxed);
            stats.packets_lost.fetch_add(lost, Ordering::Relaxed);
            if full_stay && !slot.publishes {
                stats.listener_sessions.fetch_add(1, Ordering::Relaxed);
                if received > 0 {
                    stats.listener_heard.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(Err(err)) => {
            eprintln!("soak: joiner {} failed: {err}", slot.index);
            stats.fail(err.code());
        }
        Err(_) => stats.fail("joiner_panicked"),
    }
    stats.ended.fetch_add(1, Ordering::Relaxed);
    stopped
}

/// Sleeps `pause`; returns `true` if `stop` turned true first.
async fn sleep_or_stop(pause: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    let stopped = tokio::select! {
        () = tokio::time::sleep(pause) => false,
        _ = stop.wait_for(|s| *s) => true,
    };
    stopped || *stop.borrow()
}

/// A uniformly random duration in `[low, high]`.
pub fn random_between(rng: &mut impl Rng, low: Duration, high: Duration) -> Duration {
    if high <= low {
        return low;
    }
    low + Duration::from_secs_f64(rng.random::<f64>() * (high - low).as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_durations_stay_in_range() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let (low, high) = (Duration::from_secs(20), Duration::from_secs(60));
        for _ in 0..1000 {
            let d = random_between(&mut rng, low, high);
            assert!(d >= low && d <= high, "{d:?}");
        }
        assert_eq!(random_between(&mut rng, high, low), high);
    }

    #[test]
    fn live_counts_started_minus_ended() {
        let stats = ChurnStats::default();
        stats.attempted.store(5, Ordering::Relaxed);
        stats.ended.store(3, Ordering::Relaxed);
        assert_eq!(stats.live(), 2);
        stats.fail("timeout");
        stats.fail("timeout");
        assert_eq!(stats.failures().get("timeout"), Some(&2));
        assert_eq!(stats.failed.load(Ordering::Relaxed), 2);
    }
}
