//! The paced video sender: frames read from files, packetized and sent in real time, one file
//! per simulcast encoding, looped with RTP timestamps that keep running. Honours dynacast
//! (`publish_layers`): a paused encoding sends nothing and, when resumed, starts again on its
//! file's next keyframe (a file cannot make one on demand).

use super::clip::{VideoClip, VideoCodec};
use crate::JoinerError;
use crate::peer::sdp;
use bytes::Bytes;
use rtc::rtp::codec::{
    av1::Av1Payloader, h264::H264Payloader, vp8::Vp8Payloader, vp9::Vp9Payloader,
};
use rtc::rtp::packetizer::{Packetizer, Payloader, new_packetizer};
use rtc::rtp::sequence::new_random_sequencer;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::peer_connection::PeerConnection;
use webrtc::peer_connection::RTCPeerConnectionState;

/// RTP payload size limit (what webrtc-rs's sample track uses).
const RTP_MTU: usize = 1200;
/// The RTP video clock.
const VIDEO_CLOCK: f64 = 90_000.0;

/// One simulcast encoding of a local video track.
#[derive(Debug, Clone)]
pub struct LocalLayer {
    /// Its rid (`None` without simulcast).
    pub rid: Option<String>,
    /// Its SSRC.
    pub ssrc: u32,
}

/// A published video track (camera or screenshare) and its sender.
#[derive(Clone)]
pub struct LocalVideo {
    /// The track packets are written to.
    pub track: Arc<TrackLocalStaticRTP>,
    /// Its `msid` track id.
    pub track_id: String,
    /// `camera` or `screenshare`.
    pub source: openchat_protocol::MediaSource,
    /// Its encodings, lowest first.
    pub layers: Vec<LocalLayer>,
    /// The codec of its files.
    pub codec: VideoCodec,
    pub(crate) pc: Arc<dyn PeerConnection>,
}

/// What the answer negotiated for a local video track's m-line.
struct Negotiated {
    payload_type: u8,
    mid: String,
    /// Header extension ids of `sdes:mid` and `sdes:rtp-stream-id`.
    mid_extension: Option<u8>,
    rid_extension: Option<u8>,
}

const MID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
const RID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";

impl LocalVideo {
    /// The payload type the server's answer gave the track's codec on its m-line, and its
    /// header extension ids: webrtc-rs's sender parameters list the session's first video
    /// m-line's codecs, and it does not tag simulcast packets with their mid and rid itself.
    async fn negotiated(&self) -> Result<Negotiated, JoinerError> {
        let refused = || {
            JoinerError::Protocol(format!(
                "the server did not accept {:?} for the {} track",
                self.codec,
                self.source.as_str()
            ))
        };
        let local = self.pc.local_description().await.map(|d| d.sdp);
        let remote = self.pc.remote_description().await.map(|d| d.sdp);
        let (Some(local), Some(remote)) = (local, remote) else {
            return Err(refused());
        };
        let mid = sdp::media_sections(&local)
            .into_iter()
            .find(|s| s.msid.as_ref().is_some_and(|(_, t)| *t == self.track_id))
            .and_then(|s| s.mid)
            .ok_or_else(refused)?;
        let section = sdp::media_sections(&remote)
            .into_iter()
            .find(|s| s.mid.as_deref() == Some(mid.as_str()) && !s.rejected)
            .ok_or_else(refused)?;
        Ok(Negotiated {
            payload_type: section
                .payload_type_of(self.codec.rtp_name())
                .ok_or_else(refused)?,
            mid_extension: section.extension_id(MID_URI),
            rid_extension: section.extension_id(RID_URI),
            mid,
        })
    }
}

/// Which encodings the server wants (`publish_layers`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerPlan {
    /// Send nothing.
    pub paused: bool,
    /// Send these rids only (empty: all).
    pub rids: Vec<String>,
}

impl LayerPlan {
    fn wants(&self, rid: Option<&str>) -> bool {
        !self.paused
            && (self.rids.is_empty() || rid.is_none_or(|rid| self.rids.iter().any(|r| r == rid)))
    }
}

/// What the video sender did, per encoding.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct VideoLayerReport {
    /// Its rid, if simulcast.
    pub rid: Option<String>,
    /// Frames sent.
    pub frames_sent: u64,
    /// Of which keyframes.
    pub keyframes_sent: u64,
    /// RTP packets sent.
    pub packets_sent: u64,
    /// Payload bytes sent.
    pub payload_bytes_sent: u64,
    /// Mean payload bitrate while sending, kbit/s.
    pub kbps: f64,
    /// Frames not sent: paused by dynacast, or waiting for a keyframe after a pause.
    pub frames_held: u64,
    /// Packets webrtc-rs refused.
    pub send_errors: u64,
}

/// What one video track's sender did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct VideoSenderReport {
    /// `camera` or `screenshare`.
    pub source: String,
    /// The codec sent.
    pub codec: Option<VideoCodec>,
    /// Seconds sent.
    pub seconds: f64,
    /// Per encoding, lowest first.
    pub layers: Vec<VideoLayerReport>,
    /// Times the server told it which encodings to send.
    pub dynacast_updates: u64,
}

struct LayerSender {
    clip: Arc<VideoClip>,
    packetizer: Box<dyn Packetizer>,
    report: VideoLayerReport,
    waiting_keyframe: bool,
}

fn payloader(codec: VideoCodec) -> Box<dyn Payloader> {
    match codec {
        VideoCodec::Vp8 => {
            let mut vp8 = Vp8Payloader::default();
            vp8.enable_picture_id = true;
            Box::new(vp8)
        }
        VideoCodec::Vp9 => Box::new(Vp9Payloader::default()),
        VideoCodec::Av1 => Box::new(Av1Payloader::default()),
        VideoCodec::H264 => Box::new(H264Payloader::default()),
    }
}

/// Sends `clips` (one per encoding of `local`, lowest first) until `stop` flips to `true` or
/// the connection ends. Waits for the connection first. Frames are paced by their clip's frame
/// duration; a stall skips frames (their RTP time passes) rather than bursting stale video.
pub async fn run_video_sender(
    local: LocalVideo,
    clips: Vec<Arc<VideoClip>>,
    mut plan: watch::Receiver<LayerPlan>,
    mut connection: watch::Receiver<RTCPeerConnectionState>,
    mut stop: watch::Receiver<bool>,
) -> Result<VideoSenderReport, JoinerError> {
    let mut report = VideoSenderReport {
        source: local.source.as_str().to_owned(),
        codec: Some(local.codec),
        ..Default::default()
    };
    tokio::select! {
        state = connection.wait_for(|s| matches!(
            s,
            RTCPeerConnectionState::Connected
                | RTCPeerConnectionState::Failed
                | RTCPeerConnectionState::Closed
        )) => {
            if !matches!(state.as_deref(), Ok(RTCPeerConnectionState::Connected)) {
                return Ok(report);
            }
        }
        _ = stop.wait_for(|stopped| *stopped) => return Ok(report),
    }
    let negotiated = local.negotiated().await?;
    let pt = negotiated.payload_type;
    let started = Instant::now();
    let mut layers: Vec<LayerSender> = local
        .layers
        .iter()
        .zip(clips)
        .map(|(layer, clip)| LayerSender {
            packetizer: Box::new(new_packetizer(
                started,
                RTP_MTU,
                pt,
                layer.ssrc,
                payloader(clip.codec),
                Box::new(new_random_sequencer()),
                VIDEO_CLOCK as u32,
            )),
            clip,
            report: VideoLayerReport {
                rid: layer.rid.clone(),
                ..Default::default()
            },
            waiting_keyframe: false,
        })
        .collect();
    let period = layers
        .first()
        .map(|l| l.clip.frame_duration)
        .ok_or_else(|| JoinerError::Config("a video track without a file".into()))?;
    let frame_ticks = (period.as_secs_f64() * VIDEO_CLOCK).round() as u32;
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut frame_index: u64 = 0;
    let mut last_tick = tokio::time::Instant::now();
    loop {
        // Decided inside the select, sent outside it: an arm's awaits would hold the other
        // branches' outputs (watch guards), which are not `Send`.
        let tick = tokio::select! {
            tick = ticker.tick() => tick,
            changed = plan.changed() => {
                if changed.is_err() {
                    break;
                }
                report.dynacast_updates += 1;
                continue;
            }
            _ = connection.wait_for(|s| matches!(
                s,
                RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
            )) => break,
            _ = stop.wait_for(|stopped| *stopped) => break,
        };
        // Frames whose time passed during a stall are skipped, their RTP time too.
        let missed = (tick.duration_since(last_tick).as_secs_f64() / period.as_secs_f64())
            .round()
            .max(1.0) as u64
            - 1;
        last_tick = tick;
        frame_index += missed;
        let current = plan.borrow().clone();
        for layer in &mut layers {
            if missed > 0 {
                // The skipped frames' successors reference them: resume on a keyframe.
                layer
                    .packetizer
                    .skip_samples(frame_ticks.wrapping_mul(missed as u32));
                layer.waiting_keyframe = true;
            }
            send_frame(
                &local,
                &negotiated,
                layer,
                &current,
                frame_index,
                frame_ticks,
            )
            .await;
        }
        frame_index += 1;
    }
    report.seconds = started.elapsed().as_secs_f64();
    report.layers = layers
        .into_iter()
        .map(|mut l| {
            l.report.kbps =
                l.report.payload_bytes_sent as f64 * 8.0 / 1000.0 / report.seconds.max(0.001);
            l.report
        })
        .collect();
    Ok(report)
}

/// Sends one layer's frame number `index` (looping its clip), or holds it.
async fn send_frame(
    local: &LocalVideo,
    negotiated: &Negotiated,
    layer: &mut LayerSender,
    plan: &LayerPlan,
    index: u64,
    frame_ticks: u32,
) {
    let frames = &layer.clip.frames;
    let frame = &frames[(index % frames.len() as u64) as usize];
    let wanted = plan.wants(layer.report.rid.as_deref());
    if !wanted || (layer.waiting_keyframe && !frame.keyframe) {
        layer.waiting_keyframe = true;
        layer.report.frames_held += 1;
        layer.packetizer.skip_samples(frame_ticks);
        return;
    }
    layer.waiting_keyframe = false;
    let packets =
        match layer
            .packetizer
            .packetize(Instant::now(), &Bytes::clone(&frame.data), frame_ticks)
        {
            Ok(packets) => packets,
            Err(err) => {
                tracing::warn!(%err, "a video frame could not be packetized");
                layer.report.send_errors += 1;
                layer.packetizer.skip_samples(frame_ticks);
                layer.waiting_keyframe = true;
                return;
            }
        };
    layer.report.frames_sent += 1;
    layer.report.keyframes_sent += u64::from(frame.keyframe);
    for mut packet in packets {
        let bytes = packet.payload.len() as u64;
        let tags = [
            (negotiated.mid_extension, Some(negotiated.mid.as_str())),
            (negotiated.rid_extension, layer.report.rid.as_deref()),
        ];
        for (id, value) in tags {
            if let (Some(id), Some(value)) = (id, value)
                && let Err(err) = packet
                    .header
                    .set_extension(id, Bytes::copy_from_slice(value.as_bytes()))
            {
                tracing::debug!(%err, "could not tag a video packet");
            }
        }
        match local.track.write_rtp_with_extensions(packet, &[]).await {
            Ok(()) => {
                layer.report.packets_sent += 1;
                layer.report.payload_bytes_sent += bytes;
            }
            Err(err) => {
                tracing::debug!(%err, "a video packet was not sent");
                layer.report.send_errors += 1;
            }
        }
    }
}
