//! The load run's report: human-readable text and JSON.

use super::percentile::LatencyMs;
use super::video_summary::VideoLoad;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Joins: how many were attempted and what became of them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JoinCounts {
    /// Joiners started.
    pub attempted: u64,
    /// Joiners whose peer connection reached `connected`.
    pub media_connected: u64,
    /// Joiners that received at least one audio packet.
    pub first_audio: u64,
    /// Joiners that stopped with an error.
    pub failed: u64,
    /// Failures by error code (`not_a_member`, `room_full`, `timeout`, ...).
    pub failures_by_code: BTreeMap<String, u64>,
}

/// Packet totals over the whole run (from the joiners' own counters).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PacketCounts {
    /// RTP packets publishers handed to their transport.
    pub sent: u64,
    /// RTP packets subscribers received.
    pub received: u64,
    /// Packets missing in subscribers' sequence numbers.
    pub lost: u64,
    /// `lost / (received + lost)` in percent.
    pub loss_percent: f64,
    /// Mean RFC 3550 interarrival jitter over received tracks, ms.
    pub jitter_mean_ms: f64,
    /// Largest per-track jitter, ms.
    pub jitter_max_ms: f64,
}

/// CPU and memory of the server process during the window.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerUsage {
    /// Process id read.
    pub pid: u32,
    /// CPU seconds (user + system) spent during the window.
    pub cpu_secs: f64,
    /// CPU use during the window, percent of one core.
    pub cpu_percent: f64,
    /// RSS before the first join, bytes.
    pub rss_before_bytes: u64,
    /// RSS at the end of the window, bytes.
    pub rss_after_bytes: u64,
    /// `(rss_after - rss_before) / joiners`, bytes.
    pub rss_per_participant_bytes: f64,
    /// Packets the server says it forwarded during the window (its metrics counter).
    pub forwarded_packets: Option<u64>,
    /// Server CPU microseconds per packet it forwarded (counter).
    pub cpu_us_per_forwarded_packet: Option<f64>,
    /// Server CPU microseconds per packet (audio and video) subscribers received (cross-check).
    pub cpu_us_per_received_packet: Option<f64>,
}

/// The server's own added forwarding latency over the window (its histogram, read to send).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ForwardLatencyMs {
    /// Packets measured (one sample per forwarded source packet, all copies sent).
    pub count: u64,
    /// Median, interpolated within its histogram bucket.
    pub p50: Option<f64>,
    /// 99th percentile, interpolated within its histogram bucket.
    pub p99: Option<f64>,
}

/// The measurement window: after every joiner connected and the run settled.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Window {
    /// Length in seconds.
    pub seconds: f64,
    /// Audio packets subscribers received during the window.
    pub packets_received: u64,
    /// Video packets subscribers received during the window.
    pub video_packets_received: u64,
    /// Their RTP payload bytes.
    pub video_bytes_received: u64,
    /// This load process's CPU seconds during the window.
    pub load_cpu_secs: f64,
    /// This load process's CPU use, percent of one core.
    pub load_cpu_percent: f64,
    /// The server's usage, when `--server-pid` was given.
    pub server: Option<ServerUsage>,
    /// The server's added forwarding latency, when its metrics expose it.
    pub server_forward_latency_ms: Option<ForwardLatencyMs>,
    /// Keyframe requests the server sent its publishers during the window, when its metrics
    /// expose them.
    pub server_keyframe_requests: Option<u64>,
}

/// Everything one load run reports.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadSummary {
    /// Backend driven.
    pub target: String,
    /// Joiners started.
    pub joiners: usize,
    /// Of which publishing.
    pub publishers: usize,
    /// Rooms they were spread over.
    pub rooms: usize,
    /// Joins per second.
    pub ramp_per_sec: f64,
    /// Join outcomes.
    pub joins: JoinCounts,
    /// Ticket request to first audio packet received.
    pub join_latency_ms: LatencyMs,
    /// Publisher send to subscriber receive, matched per packet, during the window.
    pub e2e_latency_ms: LatencyMs,
    /// Packets received in the window that could not be matched with a send.
    pub e2e_unmatched: u64,
    /// Packet totals.
    pub packets: PacketCounts,
    /// The measurement window.
    pub window: Window,
    /// Video sent and received over the run, when there was any (`--video`).
    pub video: Option<VideoLoad>,
}

impl LoadSummary {
    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"))
}

impl fmt::Display for LoadSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "load: {} joiners ({} publishing) in {} room(s) on {}, ramp {}/s",
            self.joiners, self.publishers, self.rooms, self.target, self.ramp_per_sec
        )?;
        let j = &self.joins;
        writeln!(
            f,
            "joins: {} attempted, {} media connected, {} got audio, {} failed",
            j.attempted, j.media_connected, j.first_audio, j.failed
        )?;
        for (code, n) in &j.failures_by_code {
            writeln!(f, "  failed with {code}: {n}")?;
        }
        let l = &self.join_latency_ms;
        writeln!(
            f,
            "join latency (ticket -> first audio): p50 {} ms, p95 {} ms, p99 {} ms ({} samples)",
            opt(l.p50),
            opt(l.p95),
            opt(l.p99),
            l.count
        )?;
        let e = &self.e2e_latency_ms;
        writeln!(
            f,
            "end-to-end latency: p50 {} ms, p99 {} ms, max {} ms ({} matched, {} unmatched)",
            opt(e.p50),
            opt(e.p99),
            opt(e.max),
            e.count,
            self.e2e_unmatched
        )?;
        let p = &self.packets;
        writeln!(
            f,
            "packets: {} sent, {} received, {} lost ({:.3}%), jitter mean {:.2} ms, max {:.2} ms",
            p.sent, p.received, p.lost, p.loss_percent, p.jitter_mean_ms, p.jitter_max_ms
        )?;
        let w = &self.window;
        writeln!(
            f,
            "window {:.1}s: {} audio and {} video packets received; load process CPU {:.1}%",
            w.seconds, w.packets_received, w.video_packets_received, w.load_cpu_percent
        )?;
        if let Some(s) = &w.server {
            writeln!(
                f,
                "server pid {}: CPU {:.1}%, {} us/forwarded packet ({} forwarded), {} us/received packet, \
                 RSS {:.1} -> {:.1} MiB ({:.1} KiB/participant)",
                s.pid,
                s.cpu_percent,
                opt(s.cpu_us_per_forwarded_packet),
                s.forwarded_packets
                    .map_or_else(|| "-".to_owned(), |n| n.to_string()),
                opt(s.cpu_us_per_received_packet),
                s.rss_before_bytes as f64 / 1_048_576.0,
                s.rss_after_bytes as f64 / 1_048_576.0,
                s.rss_per_participant_bytes / 1024.0
            )?;
        }
        if let Some(video) = &self.video {
            write!(f, "{video}")?;
        }
        if let Some(l) = &w.server_forward_latency_ms {
            writeln!(
                f,
                "server added forwarding latency (read -> sent): p50 {} ms, p99 {} ms ({} packets)",
                opt(l.p50),
                opt(l.p99),
                l.count
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_fields_the_bench_harness_reads() {
        let mut summary = LoadSummary {
            target: "http://127.0.0.1:8080/".into(),
            joiners: 11,
            publishers: 1,
            rooms: 1,
            ramp_per_sec: 20.0,
            join_latency_ms: LatencyMs::from_ms(vec![40.0, 60.0, 50.0]),
            e2e_latency_ms: LatencyMs::from_us(vec![900, 1_100, 1_000]),
            ..LoadSummary::default()
        };
        summary.joins.attempted = 11;
        summary.joins.failed = 1;
        summary.joins.failures_by_code.insert("room_full".into(), 1);
        summary.window.server = Some(ServerUsage {
            pid: 7,
            cpu_us_per_forwarded_packet: Some(2.5),
            forwarded_packets: Some(10_000),
            ..ServerUsage::default()
        });
        summary.window.server_forward_latency_ms = Some(ForwardLatencyMs {
            count: 500,
            p50: Some(0.04),
            p99: Some(0.3),
        });
        let json: serde_json::Value = serde_json::from_str(&summary.to_json()).expect("json");
        assert_eq!(json["window"]["server_forward_latency_ms"]["p99"], 0.3);
        assert_eq!(json["joins"]["failures_by_code"]["room_full"], 1);
        assert_eq!(json["join_latency_ms"]["p50"], 50.0);
        assert_eq!(json["e2e_latency_ms"]["p99"], 1.1);
        assert_eq!(json["window"]["server"]["cpu_us_per_forwarded_packet"], 2.5);
        assert_eq!(json["window"]["server"]["forwarded_packets"], 10_000);
        let text = summary.to_string();
        assert!(text.contains("failed with room_full: 1"), "{text}");
        assert!(text.contains("p50 50.00 ms"), "{text}");
        assert!(
            text.contains("(read -> sent): p50 0.04 ms, p99 0.30 ms (500 packets)"),
            "{text}"
        );
        assert!(
            text.contains("2.50 us/forwarded packet (10000 forwarded)"),
            "{text}"
        );
    }
}
