//! N realtime WebSocket subscribers that time every `message_created` frame they read.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use futures_util::StreamExt;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::fixture::{Fixture, subscriber};

/// Clock and per-envelope bookkeeping shared by senders and subscribers. Envelope `i` is sent
/// with client message id `b<i>`.
pub struct Shared {
    pub start: Instant,
    /// Nanoseconds since `start` when the POST of envelope `i` began (0: not sent).
    pub sent_at: Vec<AtomicU64>,
    /// Nanoseconds since `start` when the last subscriber read envelope `i`.
    pub completed_at: Vec<AtomicU64>,
    /// Subscribers that have read envelope `i`.
    pub delivered: Vec<AtomicU32>,
    /// Every frame read by any subscriber.
    pub frames: AtomicU64,
    /// `resync` frames (a subscriber fell behind and was closed).
    pub resyncs: AtomicU64,
    pub subscribers: u32,
    /// Set to `true` to make every subscriber return its deliveries.
    pub stop: tokio::sync::watch::Sender<bool>,
}

impl Shared {
    pub fn new(envelopes: usize, subscribers: usize) -> Arc<Shared> {
        let zeros = || (0..envelopes).map(|_| AtomicU64::new(0)).collect();
        Arc::new(Shared {
            start: Instant::now(),
            sent_at: zeros(),
            completed_at: zeros(),
            delivered: (0..envelopes).map(|_| AtomicU32::new(0)).collect(),
            frames: AtomicU64::new(0),
            resyncs: AtomicU64::new(0),
            subscribers: u32::try_from(subscribers).unwrap_or(u32::MAX),
            stop: tokio::sync::watch::channel(false).0,
        })
    }

    pub fn now_nanos(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// `(envelope index, latency in microseconds)` of every delivery a subscriber saw.
pub type Deliveries = Vec<(u32, u32)>;

/// The envelope index in a `message_created` frame (`"client_message_id":"b<i>"`), found
/// without parsing the whole frame.
fn envelope_index(frame: &str) -> Option<usize> {
    if !frame.contains(r#""kind":"message_created""#) {
        return None;
    }
    const KEY: &str = r#""client_message_id":"b"#;
    let at = frame.find(KEY)? + KEY.len();
    let digits: &str = &frame[at..];
    let end = digits.find('"')?;
    digits[..end].parse().ok()
}

/// Connects every subscriber (100 at a time); each runs until its socket closes.
pub async fn connect_all(
    fixture: &Fixture,
    shared: &Arc<Shared>,
) -> anyhow::Result<Vec<JoinHandle<Deliveries>>> {
    let mut tasks = Vec::with_capacity(fixture.subscribers);
    for chunk in (0..fixture.subscribers).collect::<Vec<_>>().chunks(100) {
        let mut connecting = Vec::new();
        for &i in chunk {
            let url = format!(
                "ws://{}/v1/realtime?user={}&device=d0",
                fixture.addr,
                subscriber(i)
            );
            connecting.push(tokio::spawn(async move {
                tokio_tungstenite::connect_async(url).await
            }));
        }
        for connecting in connecting {
            let (ws, _) = connecting.await??;
            let shared = shared.clone();
            tasks.push(tokio::spawn(read_frames(ws, shared)));
        }
    }
    Ok(tasks)
}

async fn read_frames(
    mut ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    shared: Arc<Shared>,
) -> Deliveries {
    let mut deliveries = Vec::new();
    let mut stop = shared.stop.subscribe();
    loop {
        let frame = tokio::select! {
            frame = ws.next() => frame,
            _ = stop.changed() => break,
        };
        let Some(Ok(frame)) = frame else { break };
        let Message::Text(text) = frame else { continue };
        let now = shared.now_nanos();
        shared.frames.fetch_add(1, Ordering::Relaxed);
        if text.contains(r#""type":"resync""#) {
            shared.resyncs.fetch_add(1, Ordering::Relaxed);
            break;
        }
        let Some(i) = envelope_index(&text) else {
            continue;
        };
        let Some(sent) = shared.sent_at.get(i) else {
            continue;
        };
        let latency_us = now.saturating_sub(sent.load(Ordering::Relaxed)) / 1000;
        deliveries.push((i as u32, u32::try_from(latency_us).unwrap_or(u32::MAX)));
        if shared.delivered[i].fetch_add(1, Ordering::AcqRel) + 1 == shared.subscribers {
            shared.completed_at[i].store(now, Ordering::Release);
        }
    }
    deliveries
}

#[cfg(test)]
mod tests {
    use super::envelope_index;

    #[test]
    fn finds_the_index() {
        let frame = r#"{"type":"event","id":3,"kind":"message_created","created_at":1,"data":{"message":{"client_message_id":"b42","x":1}}}"#;
        assert_eq!(envelope_index(frame), Some(42));
        assert_eq!(envelope_index(r#"{"kind":"typing"}"#), None);
    }
}
