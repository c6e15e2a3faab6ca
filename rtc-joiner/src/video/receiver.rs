//! Receiving remote video: frames and keyframes counted per track, the resolution over time,
//! freezes, keyframe requests (PLI) after a loss, and the frames written to a file.

use super::assembler::{Frame, FrameAssembler};
use super::clip::VideoCodec;
use super::ivf::VideoFileWriter;
use crate::load::probe::VideoProbe;
use crate::receiver::RemoteTrackInfo;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

/// At most one keyframe request per this long (as browsers pace their PLIs).
const PLI_INTERVAL: Duration = Duration::from_millis(500);
/// WebRTC stats' freeze rule: a gap between decodable frames of at least
/// max(3 x the mean gap, the mean gap + 150 ms), the mean over the last 30 gaps.
const FREEZE_EXTRA: Duration = Duration::from_millis(150);
/// The mean gap is over the last this many gaps (as libwebrtc's freeze detector) ...
const FREEZE_WINDOW: usize = 30;
/// ... once there are at least this many.
const FREEZE_MIN_SAMPLES: usize = 5;

/// Who a receiving video m-line's media comes from, and where to record it.
#[derive(Debug, Clone, Default)]
pub struct VideoOwner {
    /// The publisher and its track.
    pub info: RemoteTrackInfo,
    /// `camera` or `screenshare`, when announced.
    pub source: Option<String>,
    /// The file to write (its extension is set from the codec), if recording.
    pub path_stem: Option<PathBuf>,
    /// The m-line's payload types and their codecs (its `a=rtpmap`s). The server may hand the
    /// m-line to a publisher of another codec without a new offer, so each packet's codec is
    /// read from its payload type.
    pub payload_types: Vec<(u8, VideoCodec)>,
}

/// A resolution seen from a given time on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ResolutionChange {
    /// Milliseconds since the track's first frame.
    pub at_ms: u64,
    /// Picture width.
    pub width: u32,
    /// Picture height.
    pub height: u32,
}

/// What was received of one remote video track.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct VideoReceiverReport {
    /// Whose track.
    #[serde(flatten)]
    pub info: RemoteTrackInfo,
    /// `camera` or `screenshare`.
    pub source: Option<String>,
    /// The codec received.
    pub codec: Option<VideoCodec>,
    /// RTP packets received.
    pub packets_received: u64,
    /// Packets missing (sequence gaps).
    pub packets_lost: u64,
    /// Packets that came after a newer one (dropped).
    pub packets_late: u64,
    /// Whole, decodable frames.
    pub frames: u64,
    /// Of which keyframes.
    pub keyframes: u64,
    /// Frames dropped as undecodable (incomplete, or waiting for a keyframe).
    pub frames_dropped: u64,
    /// PLIs sent.
    pub keyframe_requests: u64,
    /// Gaps between decodable frames counted as freezes.
    pub freezes: u64,
    /// Their total length.
    pub freeze_seconds: f64,
    /// The resolution over time (VP8 and H.264 keyframes name it).
    pub resolutions: Vec<ResolutionChange>,
    /// From the first decodable frame to the last.
    pub video_seconds: f64,
    /// The file written, if recording.
    pub file_path: Option<PathBuf>,
    /// Why recording failed, if it did.
    pub file_error: Option<String>,
}

struct TrackState {
    report: VideoReceiverReport,
    assembler: Option<FrameAssembler>,
    path_stem: Option<PathBuf>,
    file: Option<VideoFileWriter>,
    first_frame: Option<(Instant, u32)>,
    last_frame_at: Option<Instant>,
    /// The last [`FREEZE_WINDOW`] gaps between decodable frames, seconds.
    gaps: std::collections::VecDeque<f64>,
    last_pli: Option<Instant>,
}

impl TrackState {
    fn new(owner: VideoOwner) -> Self {
        Self {
            report: VideoReceiverReport {
                info: owner.info,
                source: owner.source,
                ..Default::default()
            },
            assembler: None,
            path_stem: owner.path_stem,
            file: None,
            first_frame: None,
            last_frame_at: None,
            gaps: std::collections::VecDeque::with_capacity(FREEZE_WINDOW),
            last_pli: None,
        }
    }

    /// Takes a packet; returns whether a keyframe should be asked for now.
    fn on_packet(&mut self, codec: VideoCodec, packet: &rtc::rtp::Packet, now: Instant) -> bool {
        self.report.packets_received += 1;
        self.report.codec = Some(codec);
        if self.assembler.as_ref().is_some_and(|a| a.codec() != codec) {
            self.assembler = None;
        }
        let assembler = self
            .assembler
            .get_or_insert_with(|| FrameAssembler::new(codec));
        let pushed = assembler.push(
            packet.header.sequence_number,
            packet.header.timestamp,
            packet.header.marker,
            &packet.payload,
        );
        self.report.packets_lost += pushed.lost;
        self.report.packets_late += u64::from(pushed.late);
        // One packet may both end an incomplete frame and complete the next one.
        if pushed.needs_keyframe {
            self.report.frames_dropped += 1;
        }
        if let Some(frame) = pushed.frame {
            self.on_frame(codec, frame, now);
        }
        let waiting = pushed.needs_keyframe || self.first_frame.is_none();
        let due = self
            .last_pli
            .is_none_or(|at| now.duration_since(at) >= PLI_INTERVAL);
        if waiting && due && pushed.needs_keyframe {
            self.last_pli = Some(now);
            self.report.keyframe_requests += 1;
            return true;
        }
        false
    }

    fn on_frame(&mut self, codec: VideoCodec, frame: Frame, now: Instant) {
        self.report.frames += 1;
        let (first_at, first_ts) = *self.first_frame.get_or_insert((now, frame.rtp_timestamp));
        if let Some(last) = self.last_frame_at.replace(now) {
            let gap = now.duration_since(last).as_secs_f64();
            if self.gaps.len() >= FREEZE_MIN_SAMPLES {
                let mean = self.gaps.iter().sum::<f64>() / self.gaps.len() as f64;
                if gap >= (3.0 * mean).max(mean + FREEZE_EXTRA.as_secs_f64()) {
                    self.report.freezes += 1;
                    self.report.freeze_seconds += gap;
                }
            }
            if self.gaps.len() == FREEZE_WINDOW {
                self.gaps.pop_front();
            }
            self.gaps.push_back(gap);
        }
        self.report.video_seconds = now.duration_since(first_at).as_secs_f64();
        if frame.keyframe {
            self.report.keyframes += 1;
            if let Some((width, height)) = codec.keyframe_size(&frame.data) {
                let changed = self
                    .report
                    .resolutions
                    .last()
                    .is_none_or(|r| (r.width, r.height) != (width, height));
                if changed {
                    self.report.resolutions.push(ResolutionChange {
                        at_ms: now.duration_since(first_at).as_millis() as u64,
                        width,
                        height,
                    });
                }
            }
        }
        self.record(codec, &frame, first_ts);
    }

    fn record(&mut self, codec: VideoCodec, frame: &Frame, first_ts: u32) {
        if self.report.file_error.is_some() {
            return;
        }
        if self.file.is_none()
            && let Some(stem) = &self.path_stem
        {
            let path = stem.with_extension(if codec.is_ivf() { "ivf" } else { "h264" });
            let (width, height) = codec.keyframe_size(&frame.data).unwrap_or((0, 0));
            match VideoFileWriter::create(&path, codec, width, height) {
                Ok(file) => {
                    self.file = Some(file);
                    self.report.file_path = Some(path);
                }
                Err(e) => {
                    self.report.file_error = Some(format!("{}: {e}", path.display()));
                    return;
                }
            }
        }
        if let Some(file) = self.file.as_mut() {
            let pts = u64::from(frame.rtp_timestamp.wrapping_sub(first_ts));
            if let Err(e) = file.write_frame(pts, &frame.data) {
                self.report.file_error = Some(e.to_string());
                self.file = None;
            }
        }
    }

    fn finish(mut self) -> VideoReceiverReport {
        if let Some(file) = self.file.take()
            && let Err(e) = file.finish()
        {
            self.report.file_error = Some(e.to_string());
        }
        self.report
    }
}

/// Reads a remote video `track` until it ends or `stop` flips to `true`. One report per
/// publisher heard on the m-line (`owner` changes when the server hands the m-line over).
/// With a `probe` (load mode), every packet is counted for the measurement window.
pub async fn run_video_receiver(
    track: Arc<dyn TrackRemote>,
    mut owner: watch::Receiver<VideoOwner>,
    mut stop: watch::Receiver<bool>,
    probe: Option<VideoProbe>,
) -> Vec<VideoReceiverReport> {
    let first = owner.borrow_and_update().clone();
    let payload_types = first.payload_types.clone();
    let mut state = TrackState::new(first);
    let mut reports = Vec::new();
    let mut owner_open = true;
    let mut codec: Option<(u8, Option<VideoCodec>)> = None;
    loop {
        // Decided inside the select, acted on outside it: an arm's awaits would hold the other
        // branches' outputs (a watch guard), which are not `Send`.
        let event = tokio::select! {
            event = track.poll() => event,
            changed = owner.changed(), if owner_open => {
                match changed {
                    Ok(()) => {
                        let next = TrackState::new(owner.borrow_and_update().clone());
                        reports.push(std::mem::replace(&mut state, next).finish());
                    }
                    Err(_) => owner_open = false,
                }
                continue;
            }
            _ = stop.wait_for(|stopped| *stopped) => break,
        };
        let packet = match event {
            Some(TrackRemoteEvent::OnRtpPacket(packet)) => packet,
            Some(TrackRemoteEvent::OnEnded) | None => break,
            Some(_) => continue,
        };
        if let Some(probe) = &probe {
            probe.on_receive(packet.payload.len());
        }
        let pt = packet.header.payload_type;
        if codec.is_none_or(|(known, _)| known != pt) {
            let announced = payload_types
                .iter()
                .find(|(p, _)| *p == pt)
                .map(|(_, c)| *c);
            let found = match announced {
                Some(c) => Some(c),
                None => {
                    let mime = track.codec(packet.header.ssrc).await.map(|c| c.mime_type);
                    mime.as_deref().and_then(VideoCodec::from_mime)
                }
            };
            if found.is_none() {
                tracing::warn!(pt, "video in a codec the joiner cannot read");
            }
            codec = Some((pt, found));
        }
        let Some((_, Some(video_codec))) = codec else {
            continue;
        };
        if state.on_packet(video_codec, &packet, Instant::now()) {
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: packet.header.ssrc,
            };
            if let Err(err) = track.write_rtcp(vec![Box::new(pli)]).await {
                tracing::debug!(%err, "could not send a PLI");
            }
        }
    }
    reports.push(state.finish());
    reports
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u32) -> Frame {
        Frame {
            data: vec![0x11, 0, 0],
            rtp_timestamp: n * 3000,
            keyframe: false,
        }
    }

    #[test]
    fn a_long_gap_between_frames_is_a_freeze() {
        let mut state = TrackState::new(VideoOwner::default());
        let start = Instant::now();
        let mut at = start;
        for n in 0..40 {
            state.on_frame(VideoCodec::Vp8, frame(n), at);
            at += Duration::from_millis(33);
        }
        assert_eq!(state.report.freezes, 0, "a steady 30 fps");
        at += Duration::from_millis(400);
        state.on_frame(VideoCodec::Vp8, frame(40), at);
        let report = state.finish();
        assert_eq!(report.freezes, 1);
        assert!((report.freeze_seconds - 0.433).abs() < 0.01, "{report:?}");
        assert_eq!(report.frames, 41);
    }
}
