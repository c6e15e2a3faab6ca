//! Realtime subscribers that disconnect and reconnect: each connects to `GET /v1/realtime`
//! with `last_event_id` (0 the first time: the whole outbox), reads for a random time, leaves
//! (a close frame one time, a dropped TCP connection the next), pauses, and resumes from the
//! last event id it processed. It records every envelope (`message_created`) it receives, so
//! the report can show that each subscriber got every acknowledged envelope exactly once
//! across all its reconnections.

use futures_util::{SinkExt, StreamExt};
use rand::SeedableRng;
use reqwest::Url;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use crate::churn::random_between;
use crate::setup::ChatUser;

/// Longest wait for the WebSocket handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// What the subscribers do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Reconnect after every stay.
    Churn,
    /// Stay connected (reconnect only if the server closes), to catch up.
    Settle,
    /// Leave.
    Stop,
}

/// One subscriber's record.
#[derive(Default)]
pub struct Subscriber {
    /// Client message ids of the envelopes received.
    pub seen: Mutex<HashSet<String>>,
    /// Envelopes received more than once.
    pub duplicates: AtomicU64,
    /// The last event id processed (resume point).
    pub last_event_id: AtomicI64,
}

impl Subscriber {
    /// Whether `client_message_id` was received.
    pub fn has_seen(&self, client_message_id: &str) -> bool {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(client_message_id)
    }

    fn record(&self, frame: &Value) {
        if let Some(id) = frame["id"].as_i64() {
            self.last_event_id.fetch_max(id, Ordering::Relaxed);
        }
        if frame["kind"] != "message_created" {
            return;
        }
        let Some(client_id) = frame["data"]["message"]["client_message_id"].as_str() else {
            return;
        };
        let fresh = self
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(client_id.to_owned());
        if !fresh {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What all subscribers did.
#[derive(Default)]
pub struct RealtimeStats {
    /// Sessions opened (the first connections and every reconnection).
    pub sessions: AtomicU64,
    /// Connections that failed (handshake refused or timed out).
    pub connect_failures: AtomicU64,
    /// `resync` frames (a session fell behind and was closed by the server).
    pub resyncs: AtomicU64,
    /// Sessions the server ended unasked (other than `resync`).
    pub server_closes: AtomicU64,
    /// One record per subscriber.
    pub subscribers: Vec<Arc<Subscriber>>,
}

/// How long a session stays, and the pause before the next.
#[derive(Clone, Copy, Debug)]
pub struct Reconnects {
    /// Shortest and longest stay.
    pub stay: (Duration, Duration),
    /// Pause between sessions.
    pub pause: Duration,
}

/// Starts one task per subscriber, following `phase`.
pub fn start(
    base: &Url,
    users: &[ChatUser],
    reconnects: Reconnects,
    stats: &Arc<RealtimeStats>,
    phase: watch::Receiver<Phase>,
) -> JoinSet<()> {
    let mut set = JoinSet::new();
    for (index, user) in users.iter().enumerate() {
        let Some(record) = stats.subscribers.get(index).cloned() else {
            break;
        };
        set.spawn(subscribe_loop(
            realtime_url(base),
            user.token.clone(),
            index,
            reconnects,
            record,
            stats.clone(),
            phase.clone(),
        ));
    }
    set
}

/// `ws://host:port/v1/realtime` for the HTTP base URL.
fn realtime_url(base: &Url) -> String {
    let mut url = base.clone();
    let _ = url.set_scheme(if base.scheme() == "https" {
        "wss"
    } else {
        "ws"
    });
    url.set_path("/v1/realtime");
    url.to_string()
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn subscribe_loop(
    url: String,
    token: String,
    index: usize,
    reconnects: Reconnects,
    record: Arc<Subscriber>,
    stats: Arc<RealtimeStats>,
    mut phase: watch::Receiver<Phase>,
) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2000 + index as u64);
    for session in 0u64.. {
        if *phase.borrow() == Phase::Stop {
            return;
        }
        let resume = record.last_event_id.load(Ordering::Relaxed);
        let address = format!("{url}?last_event_id={resume}&access_token={token}");
        let ws =
            match tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(address))
                .await
            {
                Ok(Ok((ws, _))) => ws,
                _ => {
                    stats.connect_failures.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(reconnects.pause).await;
                    continue;
                }
            };
        stats.sessions.fetch_add(1, Ordering::Relaxed);
        let stay = random_between(&mut rng, reconnects.stay.0, reconnects.stay.1);
        let ws = read_for(ws, stay, &record, &stats, &mut phase).await;
        if let Some(mut ws) = ws {
            if session % 2 == 0 {
                let _ = ws.send(Message::Close(None)).await;
                // Read until the server's close (bounded), so the close handshake completes.
                let _ = tokio::time::timeout(Duration::from_secs(5), async {
                    while let Some(Ok(_)) = ws.next().await {}
                })
                .await;
            }
            drop(ws);
        }
        tokio::select! {
            () = tokio::time::sleep(reconnects.pause) => {}
            _ = phase.wait_for(|p| *p == Phase::Stop) => return,
        }
    }
}

/// Reads frames until `stay` passes (only in [`Phase::Churn`]), the phase becomes
/// [`Phase::Stop`], or the server ends the session (`None`).
async fn read_for(
    mut ws: Ws,
    stay: Duration,
    record: &Subscriber,
    stats: &RealtimeStats,
    phase: &mut watch::Receiver<Phase>,
) -> Option<Ws> {
    let deadline = tokio::time::sleep(stay);
    tokio::pin!(deadline);
    loop {
        let churning = *phase.borrow() == Phase::Churn;
        tokio::select! {
            () = &mut deadline, if churning => return Some(ws),
            changed = phase.changed() => {
                if changed.is_err() || *phase.borrow() == Phase::Stop {
                    return Some(ws);
                }
            }
            frame = ws.next() => {
                let Some(Ok(frame)) = frame else {
                    stats.server_closes.fetch_add(1, Ordering::Relaxed);
                    return None;
                };
                let Message::Text(text) = frame else { continue };
                let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else {
                    continue;
                };
                match frame["type"].as_str() {
                    Some("event") => record.record(&frame),
                    Some("resync") => {
                        stats.resyncs.fetch_add(1, Ordering::Relaxed);
                        if let Some(id) = frame["last_event_id"].as_i64() {
                            record.last_event_id.store(id, Ordering::Relaxed);
                        }
                        return None;
                    }
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_envelopes_once_and_the_resume_point() {
        let s = Subscriber::default();
        let envelope = |id: i64, cid: &str| {
            json!({"type": "event", "id": id, "kind": "message_created",
                   "data": {"channel_id": "t", "message": {"client_message_id": cid}}})
        };
        s.record(&envelope(3, "s0-1"));
        s.record(&json!({"type": "event", "id": 4, "kind": "presence", "data": {}}));
        s.record(&envelope(5, "s0-1"));
        s.record(&envelope(2, "s1-0"));
        assert!(s.has_seen("s0-1") && s.has_seen("s1-0"));
        assert!(!s.has_seen("s2-0"));
        assert_eq!(s.duplicates.load(Ordering::Relaxed), 1);
        assert_eq!(
            s.last_event_id.load(Ordering::Relaxed),
            5,
            "never moves back"
        );
    }

    #[test]
    fn realtime_url_from_http_base() {
        let base = Url::parse("http://127.0.0.1:8080").expect("url");
        assert_eq!(realtime_url(&base), "ws://127.0.0.1:8080/v1/realtime");
    }
}
