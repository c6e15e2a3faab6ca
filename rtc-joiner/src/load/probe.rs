//! Per-packet measurement shared by every joiner of a load run.
//!
//! Publishers and subscribers live in the same process, so a forwarded packet can be matched
//! with its send time: the SFU rewrites SSRC, sequence number and timestamp per subscriber but
//! forwards the payload untouched, so the key is (publisher participant id, payload hash).
//! A payload hash seen twice within [`SEND_LOG_WINDOW`] is marked ambiguous and never matched.
//!
//! Everything here is cheap enough for the receive path: one short mutex per packet (per
//! publisher, uncontended most of the time) and a batched push of latency samples.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long a send stays matchable.
pub const SEND_LOG_WINDOW: Duration = Duration::from_secs(2);
/// Latency samples a receiver keeps before pushing them to the shared probe.
const SAMPLE_BATCH: usize = 256;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Hash of an RTP payload (deterministic; not cryptographic).
pub fn payload_hash(payload: &[u8]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    payload.hash(&mut h);
    h.finish()
}

/// Recent sends of one publisher.
#[derive(Default)]
pub struct SendLog {
    inner: Mutex<SendLogInner>,
}

#[derive(Default)]
struct SendLogInner {
    /// hash -> (send time, ambiguous)
    by_hash: HashMap<u64, (Instant, bool)>,
    order: VecDeque<(Instant, u64)>,
}

impl SendLog {
    /// Records a packet handed to the transport at `at`.
    pub fn record(&self, payload: &[u8], at: Instant) {
        let hash = payload_hash(payload);
        let mut inner = lock(&self.inner);
        while let Some(&(t, h)) = inner.order.front() {
            if at.saturating_duration_since(t) <= SEND_LOG_WINDOW {
                break;
            }
            inner.order.pop_front();
            if inner.by_hash.get(&h).is_some_and(|(sent, _)| *sent == t) {
                inner.by_hash.remove(&h);
            }
        }
        inner
            .by_hash
            .entry(hash)
            .and_modify(|e| *e = (at, true))
            .or_insert((at, false));
        inner.order.push_back((at, hash));
    }

    /// When the packet with this payload was sent, if it is known and unambiguous.
    pub fn sent_at(&self, payload: &[u8]) -> Option<Instant> {
        let hash = payload_hash(payload);
        match lock(&self.inner).by_hash.get(&hash) {
            Some((at, false)) => Some(*at),
            _ => None,
        }
    }
}

/// State shared by every joiner of one run.
pub struct LoadProbe {
    sends: Mutex<HashMap<String, Arc<SendLog>>>,
    /// Matched publisher->subscriber latencies in microseconds, while the window is open.
    e2e_us: Mutex<Vec<u32>>,
    /// Join latencies in milliseconds (ticket request to first audio packet).
    join_ms: Mutex<Vec<f64>>,
    window_open: AtomicBool,
    /// RTP packets handed to the transport by publishers.
    pub packets_sent: AtomicU64,
    /// RTP packets received by subscribers.
    pub packets_received: AtomicU64,
    /// RTP packets received while the measurement window was open.
    pub window_packets_received: AtomicU64,
    /// Video RTP packets received while the measurement window was open (not matched for
    /// latency: only audio is).
    pub window_video_packets_received: AtomicU64,
    /// Their RTP payload bytes.
    pub window_video_bytes_received: AtomicU64,
    /// Received packets whose send could not be matched (unknown or ambiguous payload).
    pub unmatched: AtomicU64,
    /// Joiners that received their first audio packet.
    pub first_audio: AtomicU64,
    /// Joiners whose media connection came up.
    pub media_connected: AtomicU64,
}

impl Default for LoadProbe {
    fn default() -> Self {
        Self {
            sends: Mutex::new(HashMap::new()),
            e2e_us: Mutex::new(Vec::new()),
            join_ms: Mutex::new(Vec::new()),
            window_open: AtomicBool::new(false),
            packets_sent: AtomicU64::new(0),
            packets_received: AtomicU64::new(0),
            window_packets_received: AtomicU64::new(0),
            window_video_packets_received: AtomicU64::new(0),
            window_video_bytes_received: AtomicU64::new(0),
            unmatched: AtomicU64::new(0),
            first_audio: AtomicU64::new(0),
            media_connected: AtomicU64::new(0),
        }
    }
}

impl LoadProbe {
    /// Opens or closes the measurement window (latency samples and window counters).
    pub fn set_window(&self, open: bool) {
        self.window_open.store(open, Ordering::Relaxed);
    }

    /// Whether the measurement window is open.
    pub fn window_is_open(&self) -> bool {
        self.window_open.load(Ordering::Relaxed)
    }

    /// The send log of a publisher, created on first use.
    pub fn send_log(&self, participant_id: &str) -> Arc<SendLog> {
        lock(&self.sends)
            .entry(participant_id.to_owned())
            .or_default()
            .clone()
    }

    /// Every end-to-end latency sample so far, in microseconds.
    pub fn take_e2e_us(&self) -> Vec<u32> {
        std::mem::take(&mut *lock(&self.e2e_us))
    }

    /// Every join latency so far, in milliseconds.
    pub fn join_ms(&self) -> Vec<f64> {
        lock(&self.join_ms).clone()
    }

    fn push_e2e(&self, samples: &mut Vec<u32>) {
        lock(&self.e2e_us).append(samples);
    }
}

/// One joiner's view of the probe.
#[derive(Clone)]
pub struct JoinProbe {
    shared: Arc<LoadProbe>,
    ticket_requested: Arc<Mutex<Option<Instant>>>,
    first_audio_seen: Arc<AtomicBool>,
}

impl JoinProbe {
    /// A probe for one joiner.
    pub fn new(shared: Arc<LoadProbe>) -> Self {
        Self {
            shared,
            ticket_requested: Arc::new(Mutex::new(None)),
            first_audio_seen: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The shared probe.
    pub fn shared(&self) -> &Arc<LoadProbe> {
        &self.shared
    }

    /// Marks the start of the join (the ticket request).
    pub fn ticket_requested(&self, at: Instant) {
        *lock(&self.ticket_requested) = Some(at);
    }

    /// Marks this joiner's media connection as up (call once).
    pub fn media_connected(&self) {
        self.shared.media_connected.fetch_add(1, Ordering::Relaxed);
    }

    /// A sender hook for a publisher.
    pub fn sender(&self, participant_id: &str) -> SendProbe {
        SendProbe {
            log: self.shared.send_log(participant_id),
            shared: self.shared.clone(),
        }
    }

    /// A counter of received video packets.
    pub fn video_receiver(&self) -> VideoProbe {
        VideoProbe {
            shared: self.shared.clone(),
        }
    }

    /// A receiver hook for one remote track of `publisher` (its participant id).
    pub fn receiver(&self, publisher: &str) -> RecvProbe {
        RecvProbe {
            join: self.clone(),
            publisher: publisher.to_owned(),
            log: None,
            samples: Vec::with_capacity(SAMPLE_BATCH),
        }
    }
}

/// Counts the video packets a subscriber receives during the window.
#[derive(Clone)]
pub struct VideoProbe {
    shared: Arc<LoadProbe>,
}

impl VideoProbe {
    /// Call for every video RTP packet received (`payload_len`: its payload bytes).
    pub fn on_receive(&self, payload_len: usize) {
        if self.shared.window_is_open() {
            self.shared
                .window_video_packets_received
                .fetch_add(1, Ordering::Relaxed);
            self.shared
                .window_video_bytes_received
                .fetch_add(payload_len as u64, Ordering::Relaxed);
        }
    }
}

/// Records what a publisher sends.
pub struct SendProbe {
    log: Arc<SendLog>,
    shared: Arc<LoadProbe>,
}

impl SendProbe {
    /// Call right before the packet is handed to the transport.
    pub fn on_send(&self, payload: &[u8], at: Instant) {
        if self.shared.packets_sent.load(Ordering::Relaxed) == 0 {
            tracing::debug!(payload_len = payload.len(), head = ?&payload[..payload.len().min(12)], "first probed send");
        }
        self.log.record(payload, at);
        self.shared.packets_sent.fetch_add(1, Ordering::Relaxed);
    }
}

/// Matches what a subscriber receives on one track.
pub struct RecvProbe {
    join: JoinProbe,
    publisher: String,
    log: Option<Arc<SendLog>>,
    samples: Vec<u32>,
}

impl RecvProbe {
    /// Call for every RTP packet received, as early as possible.
    pub fn on_receive(&mut self, payload: &[u8], at: Instant) {
        let shared = &self.join.shared;
        shared.packets_received.fetch_add(1, Ordering::Relaxed);
        if !self.join.first_audio_seen.swap(true, Ordering::Relaxed) {
            shared.first_audio.fetch_add(1, Ordering::Relaxed);
            if let Some(start) = *lock(&self.join.ticket_requested) {
                let ms = at.saturating_duration_since(start).as_secs_f64() * 1e3;
                lock(&shared.join_ms).push(ms);
            }
        }
        if !shared.window_is_open() {
            return;
        }
        shared
            .window_packets_received
            .fetch_add(1, Ordering::Relaxed);
        let log = self
            .log
            .get_or_insert_with(|| shared.send_log(&self.publisher));
        match log.sent_at(payload) {
            Some(sent) => {
                let us = at.saturating_duration_since(sent).as_micros();
                self.samples.push(u32::try_from(us).unwrap_or(u32::MAX));
                if self.samples.len() >= SAMPLE_BATCH {
                    shared.push_e2e(&mut self.samples);
                }
            }
            None => {
                if shared.unmatched.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::debug!(
                        publisher = %self.publisher,
                        payload_len = payload.len(),
                        head = ?&payload[..payload.len().min(12)],
                        "first unmatched packet"
                    );
                }
            }
        }
    }
}

impl Drop for RecvProbe {
    fn drop(&mut self) {
        if !self.samples.is_empty() {
            self.join.shared.push_e2e(&mut self.samples);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_sends_and_refuses_ambiguous_payloads() {
        let log = SendLog::default();
        let t0 = Instant::now();
        log.record(b"one", t0);
        log.record(b"two", t0 + Duration::from_millis(20));
        log.record(b"one", t0 + Duration::from_millis(40));
        assert_eq!(log.sent_at(b"two"), Some(t0 + Duration::from_millis(20)));
        assert_eq!(log.sent_at(b"one"), None, "seen twice: ambiguous");
        assert_eq!(log.sent_at(b"three"), None);
        // Old entries expire, so a payload is matchable again after the window.
        let later = t0 + SEND_LOG_WINDOW + Duration::from_millis(100);
        log.record(b"one", later);
        assert_eq!(log.sent_at(b"one"), Some(later));
        assert_eq!(log.sent_at(b"two"), None, "expired");
    }

    #[test]
    fn receiver_records_join_and_e2e_latency() {
        let shared = Arc::new(LoadProbe::default());
        let publisher = JoinProbe::new(shared.clone());
        let listener = JoinProbe::new(shared.clone());
        let t0 = Instant::now();
        listener.ticket_requested(t0);
        let send = publisher.sender("p_pub");
        send.on_send(b"frame-1", t0 + Duration::from_millis(100));
        send.on_send(b"frame-2", t0 + Duration::from_millis(120));
        let mut recv = listener.receiver("p_pub");
        recv.on_receive(b"frame-1", t0 + Duration::from_millis(101));
        shared.set_window(true);
        recv.on_receive(b"frame-2", t0 + Duration::from_millis(123));
        recv.on_receive(b"unknown", t0 + Duration::from_millis(140));
        drop(recv);
        assert_eq!(shared.packets_sent.load(Ordering::Relaxed), 2);
        assert_eq!(shared.packets_received.load(Ordering::Relaxed), 3);
        assert_eq!(shared.window_packets_received.load(Ordering::Relaxed), 2);
        assert_eq!(shared.unmatched.load(Ordering::Relaxed), 1);
        assert_eq!(shared.take_e2e_us(), vec![3_000]);
        let joins = shared.join_ms();
        assert_eq!(joins.len(), 1);
        assert!((joins[0] - 101.0).abs() < 1e-6);
    }
}
