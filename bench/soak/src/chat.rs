//! Chat senders: each posts envelopes (`POST /v1/channels/{id}/messages`, epoch 1, 256 random
//! bytes) round-robin over the text channels at its share of the rate, and records every one
//! the server acknowledged (2xx: committed, durable). A failed request is retried with the same
//! `client_message_id` (idempotent) before it counts as a failure.

use crate::api::{Api, error_code};
use crate::setup::ChatUser;
use base64::Engine;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Attempts per envelope.
const ATTEMPTS: u32 = 5;

/// An acknowledged envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acked {
    /// Index of its channel.
    pub channel: usize,
    /// Its idempotency key (`s<sender>-<n>`), unique in the run.
    pub client_message_id: String,
}

/// What the senders did.
#[derive(Default)]
pub struct ChatStats {
    /// Envelopes attempted (first tries).
    pub attempted: AtomicU64,
    /// Retries.
    pub retries: AtomicU64,
    /// Envelopes given up on, by code in `failures`.
    pub failed: AtomicU64,
    /// Every acknowledged envelope.
    pub acked: Mutex<Vec<Acked>>,
    /// Failures by error code.
    pub failures: Mutex<BTreeMap<String, u64>>,
}

impl ChatStats {
    /// Acknowledged envelopes so far.
    pub fn acked_count(&self) -> usize {
        lock(&self.acked).len()
    }

    /// A copy of the acknowledged envelopes.
    pub fn acked(&self) -> Vec<Acked> {
        lock(&self.acked).clone()
    }

    /// Failures by code (a copy).
    pub fn failures(&self) -> BTreeMap<String, u64> {
        lock(&self.failures).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts one task per sender; each sends `rate / senders` envelopes per second until `stop`.
pub fn start(
    api: &Api,
    senders: &[ChatUser],
    channels: &[String],
    rate: f64,
    stats: Arc<ChatStats>,
    stop: watch::Receiver<bool>,
) -> JoinSet<()> {
    let mut set = JoinSet::new();
    let period = Duration::from_secs_f64(senders.len().max(1) as f64 / rate.max(0.001));
    for (index, sender) in senders.iter().enumerate() {
        set.spawn(send_loop(
            api.clone(),
            sender.clone(),
            index,
            channels.to_vec(),
            period,
            stats.clone(),
            stop.clone(),
        ));
    }
    set
}

async fn send_loop(
    api: Api,
    sender: ChatUser,
    index: usize,
    channels: Vec<String>,
    period: Duration,
    stats: Arc<ChatStats>,
    mut stop: watch::Receiver<bool>,
) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1000 + index as u64);
    // Spread the senders over one period.
    let offset = period.mul_f64(index as f64 / 8.0);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for n in 0u64.. {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let channel = (n as usize + index) % channels.len().max(1);
        let Some(channel_id) = channels.get(channel) else {
            return;
        };
        let mut payload = [0u8; 256];
        rng.fill(&mut payload[..]);
        let client_message_id = format!("s{index}-{n}");
        let body = json!({
            "client_message_id": client_message_id,
            "epoch": 1,
            "ciphertext": base64::engine::general_purpose::STANDARD.encode(payload),
        });
        stats.attempted.fetch_add(1, Ordering::Relaxed);
        let path = format!("/v1/channels/{channel_id}/messages");
        match send_with_retries(&api, &sender.token, &path, &body, &stats).await {
            Ok(()) => lock(&stats.acked).push(Acked {
                channel,
                client_message_id,
            }),
            Err(code) => {
                eprintln!("soak: envelope {client_message_id} failed: {code}");
                stats.failed.fetch_add(1, Ordering::Relaxed);
                *lock(&stats.failures).entry(code).or_default() += 1;
            }
        }
    }
}

/// Posts until a 2xx, a refusal that a retry cannot change (4xx other than 429), or
/// [`ATTEMPTS`] tries. The error is the last code.
async fn send_with_retries(
    api: &Api,
    token: &str,
    path: &str,
    body: &serde_json::Value,
    stats: &ChatStats,
) -> Result<(), String> {
    let mut code = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            stats.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
        }
        match api.post(token, path, body.clone()).await {
            Ok((200 | 201, _)) => return Ok(()),
            Ok((status, answer)) => {
                code = error_code(status, &answer);
                if (400..500).contains(&status) && status != 429 {
                    return Err(code);
                }
            }
            Err(err) => code = format!("transport: {err}"),
        }
    }
    Err(code)
}
