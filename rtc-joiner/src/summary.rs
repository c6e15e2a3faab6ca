//! The end-of-run report, printed as text or JSON.

use crate::peer::SenderReport;
use crate::receiver::ReceiverReport;
use crate::video::{VideoReceiverReport, VideoSenderReport};
use serde::Serialize;
use std::fmt;

/// Everything a joiner reports when it stops.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Channel joined.
    pub channel_id: String,
    /// Server the channel belongs to.
    pub server_id: String,
    /// Our participant id (empty if the join failed).
    pub participant_id: String,
    /// Our user id.
    pub user_id: String,
    /// Seconds from start to stop.
    pub duration_secs: f64,
    /// Why the joiner stopped (`duration`, `interrupted`, `file_ended`,
    /// `server_going_away`: the server stopped or drained).
    pub stop_reason: String,
    /// Whether the peer connection ever reached `connected`.
    pub media_connected: bool,
    /// The publishing side, if this joiner published.
    pub sent: Option<SenderReport>,
    /// One entry per remote track received.
    pub received: Vec<ReceiverReport>,
    /// One entry per video track published (`--video`, `--screen`).
    pub video_sent: Vec<VideoSenderReport>,
    /// One entry per remote video track received (per publisher heard on its m-line).
    pub video_received: Vec<VideoReceiverReport>,
    /// Non-fatal `error` frames the server sent, as `code: message`.
    pub server_errors: Vec<String>,
    /// Every SDP sent or received, in order (sizes only).
    pub sdps: Vec<SdpSeen>,
    /// The largest SDP of the session, offers and answers either way.
    pub largest_sdp: SdpSize,
}

/// One SDP the joiner sent or received.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SdpSeen {
    /// `sent` or `received`.
    pub direction: &'static str,
    /// `offer` or `answer`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Its length in bytes.
    pub bytes: usize,
    /// Its number of m-lines.
    pub m_lines: usize,
    /// `track_published` frames received before it.
    pub tracks_published_before: usize,
}

impl SdpSeen {
    /// Describes `sdp`.
    pub fn new(
        direction: &'static str,
        kind: &'static str,
        sdp: &str,
        tracks_published_before: usize,
    ) -> SdpSeen {
        SdpSeen {
            direction,
            kind,
            bytes: sdp.len(),
            m_lines: sdp.lines().filter(|l| l.starts_with("m=")).count(),
            tracks_published_before,
        }
    }
}

/// Size of an SDP: bytes and m= sections (each at most the largest seen, not necessarily of the
/// same SDP).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SdpSize {
    /// Bytes.
    pub bytes: usize,
    /// m= sections.
    pub m_sections: usize,
}

impl SdpSize {
    /// Takes in `sdp`, keeping the largest size and section count seen.
    pub fn observe(&mut self, sdp: &str) {
        self.bytes = self.bytes.max(sdp.len());
        let sections = sdp.lines().filter(|l| l.starts_with("m=")).count();
        self.m_sections = self.m_sections.max(sections);
    }
}

impl Summary {
    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "joined {}/{} as {} ({}) for {:.1}s, stopped: {}",
            self.server_id,
            self.channel_id,
            self.participant_id,
            self.user_id,
            self.duration_secs,
            self.stop_reason
        )?;
        if !self.media_connected {
            writeln!(f, "media: never connected")?;
        }
        match &self.sent {
            Some(sent) => {
                write!(
                    f,
                    "sent: {} packets ({} bytes, {:.1}s of audio, {} errors)",
                    sent.packets_sent,
                    sent.payload_bytes_sent,
                    sent.audio_seconds,
                    sent.send_errors
                )?;
                match sent.transport_packets_sent {
                    Some(on_wire) => writeln!(f, ", {on_wire} on the wire")?,
                    None => writeln!(f)?,
                }
            }
            None => writeln!(f, "sent: nothing (listen only)")?,
        }
        if self.received.is_empty() {
            writeln!(f, "received: no remote audio")?;
        }
        for r in &self.received {
            let who = r.info.user_id.as_deref().unwrap_or(&r.info.participant_id);
            let who = if who.is_empty() {
                r.info.track_id.as_str()
            } else {
                who
            };
            write!(
                f,
                "received from {who}: {} packets, {} lost ({:.2}%), jitter {:.2} ms",
                r.packets_received, r.packets_lost, r.loss_percent, r.jitter_ms
            )?;
            if let Some(path) = &r.wav_path {
                write!(f, ", wav {}", path.display())?;
            }
            writeln!(f)?;
        }
        for v in &self.video_sent {
            for layer in &v.layers {
                writeln!(
                    f,
                    "sent {} {}: {} frames ({} keyframes), {} packets, {:.0} kbit/s, {} held",
                    v.source,
                    layer.rid.as_deref().unwrap_or("-"),
                    layer.frames_sent,
                    layer.keyframes_sent,
                    layer.packets_sent,
                    layer.kbps,
                    layer.frames_held
                )?;
            }
        }
        for v in &self.video_received {
            let who = v.info.user_id.as_deref().unwrap_or(&v.info.participant_id);
            let size = v
                .resolutions
                .last()
                .map_or("?".to_owned(), |r| format!("{}x{}", r.width, r.height));
            write!(
                f,
                "received video from {who} ({}): {} frames ({} keyframes), last {size}, \
                 {} lost, {} freezes, {} PLIs",
                v.source.as_deref().unwrap_or("?"),
                v.frames,
                v.keyframes,
                v.packets_lost,
                v.freezes,
                v.keyframe_requests
            )?;
            if let Some(path) = &v.file_path {
                write!(f, ", file {}", path.display())?;
            }
            writeln!(f)?;
        }
        for err in &self.server_errors {
            writeln!(f, "server error: {err}")?;
        }
        if self.largest_sdp.bytes > 0 {
            writeln!(
                f,
                "largest SDP: {} bytes, {} m= sections",
                self.largest_sdp.bytes, self.largest_sdp.m_sections
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receiver::RemoteTrackInfo;

    #[test]
    fn text_and_json_forms() {
        let summary = Summary {
            channel_id: "vc_general".into(),
            server_id: "srv_harbor".into(),
            participant_id: "p_1".into(),
            user_id: "bob".into(),
            duration_secs: 3.0,
            stop_reason: "duration".into(),
            media_connected: true,
            sent: Some(SenderReport {
                packets_sent: 150,
                ..SenderReport::default()
            }),
            received: vec![ReceiverReport {
                info: RemoteTrackInfo {
                    participant_id: "p_2".into(),
                    user_id: Some("alice".into()),
                    mid: Some("1".into()),
                    track_id: "t".into(),
                },
                packets_received: 148,
                packets_lost: 2,
                loss_percent: 1.333,
                jitter_ms: 0.5,
                ..ReceiverReport::default()
            }],
            video_sent: vec![],
            video_received: vec![VideoReceiverReport {
                info: RemoteTrackInfo {
                    participant_id: "p_3".into(),
                    user_id: Some("dan".into()),
                    mid: Some("2".into()),
                    track_id: "c".into(),
                },
                source: Some("camera".into()),
                frames: 90,
                keyframes: 3,
                resolutions: vec![crate::video::receiver::ResolutionChange {
                    at_ms: 0,
                    width: 320,
                    height: 180,
                }],
                ..VideoReceiverReport::default()
            }],
            server_errors: vec![],
            sdps: vec![],
            largest_sdp: SdpSize {
                bytes: 2100,
                m_sections: 3,
            },
        };
        let text = summary.to_string();
        assert!(text.contains("largest SDP: 2100 bytes, 3 m= sections"));
        assert!(text.contains("sent: 150 packets"));
        assert!(text.contains("received from alice: 148 packets, 2 lost (1.33%)"));
        assert!(
            text.contains(
                "received video from dan (camera): 90 frames (3 keyframes), last 320x180"
            )
        );
        let json: serde_json::Value = serde_json::from_str(&summary.to_json()).expect("json");
        assert_eq!(json["sent"]["packets_sent"], 150);
        assert_eq!(json["received"][0]["user_id"], "alice");
        assert_eq!(json["received"][0]["packets_lost"], 2);
        assert_eq!(json["largest_sdp"]["m_sections"], 3);
        let mut size = SdpSize::default();
        let two = "v=0\r\nm=audio 9 X 1\r\nm=audio 0 X 1\r\n";
        size.observe(two);
        size.observe("v=0\r\n");
        assert_eq!(size.m_sections, 2);
        assert_eq!(size.bytes, two.len());
    }
}
