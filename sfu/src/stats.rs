//! Counters a benchmark or `/metrics` reads. One set per worker, so the hot path never shares a
//! cache line across threads; a snapshot sums them.

use crate::dtls_failure::DtlsFailureReason;
use crate::latency::{LatencyHistogram, LatencySnapshot};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one worker. Written only by that worker.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct WorkerStats {
    pub(crate) packets_in: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) packets_forwarded: AtomicU64,
    pub(crate) bytes_forwarded: AtomicU64,
    pub(crate) packets_dropped_policy: AtomicU64,
    pub(crate) datagrams_unroutable: AtomicU64,
    pub(crate) datagrams_rejected: AtomicU64,
    pub(crate) datagrams_sent: AtomicU64,
    pub(crate) send_batches: AtomicU64,
    pub(crate) peers: AtomicU64,
    pub(crate) rooms: AtomicU64,
    pub(crate) forward_latency: LatencyHistogram,
    /// Peers ended by a DTLS failure, by [`DtlsFailureReason::index`].
    pub(crate) dtls_failures: [AtomicU64; DTLS_REASONS],
    pub(crate) connect_timeouts: AtomicU64,
    pub(crate) negotiations_failed: AtomicU64,
    pub(crate) sections_reused: AtomicU64,
    pub(crate) packets_dropped_codec: AtomicU64,
    pub(crate) keyframe_requests_received: AtomicU64,
    pub(crate) keyframe_requests_sent: AtomicU64,
    pub(crate) layer_switches: AtomicU64,
    pub(crate) temporal_drops: AtomicU64,
    pub(crate) dynacast_updates: AtomicU64,
}

const DTLS_REASONS: usize = DtlsFailureReason::ALL.len();

impl WorkerStats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        // Single writer: a relaxed load+store is enough and avoids a locked read-modify-write.
        counter.store(counter.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }

    pub(crate) fn set(counter: &AtomicU64, n: u64) {
        counter.store(n, Ordering::Relaxed);
    }
}

/// Read side of every worker's counters.
#[derive(Clone, Debug, Default)]
pub struct SfuStats {
    pub(crate) workers: Vec<Arc<WorkerStats>>,
}

/// Totals at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// RTP packets received from publishers (after SRTP decrypt).
    pub packets_in: u64,
    /// RTP payload bytes received.
    pub bytes_in: u64,
    /// RTP packets written to subscribers.
    pub packets_forwarded: u64,
    /// RTP payload bytes written to subscribers.
    pub bytes_forwarded: u64,
    /// RTP packets dropped by media policy (not permitted, muted by moderation).
    pub packets_dropped_policy: u64,
    /// Datagrams from addresses that belong to no peer.
    pub datagrams_unroutable: u64,
    /// Datagrams a peer refused (garbage, failed integrity, bad SRTP).
    pub datagrams_rejected: u64,
    /// UDP datagrams sent.
    pub datagrams_sent: u64,
    /// `sendmmsg` batches (or single sends) issued.
    pub send_batches: u64,
    /// Live peers.
    pub peers: u64,
    /// Live rooms.
    pub rooms: u64,
    /// Added forwarding latency (read to send), see [`crate::latency`].
    pub forward_latency: LatencySnapshot,
    /// Peers ended with `dtls_failed`, by reason (indexed like [`DtlsFailureReason::ALL`]; see
    /// [`StatsSnapshot::dtls_failures_by_reason`]).
    pub dtls_failures: [u64; DTLS_REASONS],
    /// Peers removed because their media did not connect within the connect bound.
    pub connect_timeouts: u64,
    /// Peers ended because a negotiation could not complete (`negotiation_failed`,
    /// `negotiation_timeout`).
    pub negotiations_failed: u64,
    /// Remote tracks that took over an idle m-line, with no offer (see `sections.rs`).
    pub sections_reused: u64,
    /// Packet copies not forwarded because the subscriber cannot receive the publisher's codec
    /// (or the publisher sent a payload type it did not negotiate).
    pub packets_dropped_codec: u64,
    /// Keyframe requests (PLI, FIR) received from subscribers.
    pub keyframe_requests_received: u64,
    /// Keyframe requests (PLI) sent to publishers, at most one per track per
    /// `keyframe_request_interval`.
    pub keyframe_requests_sent: u64,
    /// Simulcast layer switches of subscribers' streams (each on a keyframe).
    pub layer_switches: u64,
    /// Video packets of temporal layers a subscriber's bandwidth does not carry, not sent to it.
    pub temporal_drops: u64,
    /// `publish_layers` words to publishers (dynacast).
    pub dynacast_updates: u64,
}

impl StatsSnapshot {
    /// `(reason label, count)` for every DTLS failure reason, zeros included.
    pub fn dtls_failures_by_reason(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        DtlsFailureReason::ALL
            .iter()
            .zip(self.dtls_failures)
            .map(|(r, n)| (r.as_str(), n))
    }
}

impl WorkerStats {
    /// This worker's counters alone (an engine driven without [`crate::Sfu`], as in tests).
    pub fn snapshot(self: &Arc<Self>) -> StatsSnapshot {
        SfuStats {
            workers: vec![self.clone()],
        }
        .snapshot()
    }
}

impl SfuStats {
    /// Sums every worker's counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        let mut s = StatsSnapshot::default();
        for w in &self.workers {
            let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
            s.packets_in += g(&w.packets_in);
            s.bytes_in += g(&w.bytes_in);
            s.packets_forwarded += g(&w.packets_forwarded);
            s.bytes_forwarded += g(&w.bytes_forwarded);
            s.packets_dropped_policy += g(&w.packets_dropped_policy);
            s.datagrams_unroutable += g(&w.datagrams_unroutable);
            s.datagrams_rejected += g(&w.datagrams_rejected);
            s.datagrams_sent += g(&w.datagrams_sent);
            s.send_batches += g(&w.send_batches);
            s.peers += g(&w.peers);
            s.rooms += g(&w.rooms);
            for (sum, c) in s.dtls_failures.iter_mut().zip(&w.dtls_failures) {
                *sum += g(c);
            }
            s.connect_timeouts += g(&w.connect_timeouts);
            s.negotiations_failed += g(&w.negotiations_failed);
            s.sections_reused += g(&w.sections_reused);
            s.packets_dropped_codec += g(&w.packets_dropped_codec);
            s.keyframe_requests_received += g(&w.keyframe_requests_received);
            s.keyframe_requests_sent += g(&w.keyframe_requests_sent);
            s.layer_switches += g(&w.layer_switches);
            s.temporal_drops += g(&w.temporal_drops);
            s.dynacast_updates += g(&w.dynacast_updates);
            w.forward_latency.add_to(&mut s.forward_latency);
        }
        s
    }
}
