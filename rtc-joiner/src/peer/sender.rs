//! The paced Opus sender: 20 ms PCM frames -> Opus -> RTP, in real time.

use super::LocalAudio;
use crate::JoinerError;
use crate::audio_source::{PcmSource, level_dbov};
use crate::load::SendProbe;
use crate::opus_codec::{FRAME_DURATION, FRAME_SAMPLES, OpusEncoder};
use rtc::media::Sample;
use rtc::rtp::extension::audio_level_extension::AudioLevelExtension;
use std::time::Instant;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use webrtc::peer_connection::RTCPeerConnectionState;

/// Levels quieter than this (-dBov) are flagged as "no voice" in the audio-level extension.
const VOICE_LEVEL_THRESHOLD: u8 = 60;

/// What the sender did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SenderReport {
    /// RTP packets handed to webrtc-rs (one per 20 ms frame).
    pub packets_sent: u64,
    /// RTP packets webrtc-rs reports as sent on the wire (its `outbound-rtp` stats).
    pub transport_packets_sent: Option<u64>,
    /// RTP payload bytes webrtc-rs reports as sent.
    pub transport_bytes_sent: Option<u64>,
    /// Opus payload bytes sent.
    pub payload_bytes_sent: u64,
    /// Frames that could not be written.
    pub send_errors: u64,
    /// Seconds of audio sent.
    pub audio_seconds: f64,
    /// Whether a non-looping file reached its end.
    pub source_ended: bool,
}

/// Streams `source` on `local` until `stop` flips to `true`, the source ends, or the
/// connection fails.
///
/// Waits for the connection to be `connected` first. Frames are paced by a tokio interval
/// (deadlines at `start + n * 20 ms`, so pacing does not drift; after a stall the missed
/// frames are sent in a burst so the RTP timeline keeps up with the wall clock).
/// Each packet's RTP timestamp advances by exactly 960 (20 ms at 48 kHz).
/// With a `probe` (load mode), every packet's payload and send time are recorded so receivers
/// in the same process can measure end-to-end latency.
pub async fn run_sender(
    local: LocalAudio,
    mut source: PcmSource,
    mut connection: watch::Receiver<RTCPeerConnectionState>,
    mut stop: watch::Receiver<bool>,
    probe: Option<SendProbe>,
) -> Result<SenderReport, JoinerError> {
    let mut report = SenderReport::default();
    tokio::select! {
        state = connection.wait_for(|s| matches!(
            s,
            RTCPeerConnectionState::Connected
                | RTCPeerConnectionState::Failed
                | RTCPeerConnectionState::Closed
        )) => {
            match state.map(|s| *s) {
                Ok(RTCPeerConnectionState::Connected) => {}
                _ => return Ok(report),
            }
        }
        _ = stop.wait_for(|stopped| *stopped) => return Ok(report),
    }

    let (payload_type, audio_level) = local.negotiated().await?;
    let mut encoder = OpusEncoder::new()?;
    let mut frame = vec![0.0f32; FRAME_SAMPLES];
    let mut frames: u32 = 0;
    let mut ticker = tokio::time::interval(FRAME_DURATION);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
    tracing::info!(
        ssrc = local.ssrc,
        payload_type,
        audio_level,
        "publishing audio"
    );

    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.wait_for(|stopped| *stopped) => break,
            _ = connection.wait_for(|s| matches!(
                s,
                RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
            )) => break,
        }
        if !source.next_frame(&mut frame) {
            report.source_ended = true;
            break;
        }
        let level = level_dbov(&frame);
        let packet = encoder.encode(&frame)?;
        let sample = Sample {
            data: bytes::Bytes::copy_from_slice(packet),
            duration: FRAME_DURATION,
            ..Sample::new(Instant::now())
        };
        let mut writer = local.track.sample_writer(local.ssrc, payload_type);
        if audio_level {
            writer = writer.with_audio_level(AudioLevelExtension {
                level,
                voice: level < VOICE_LEVEL_THRESHOLD,
            });
        }
        if let Some(probe) = &probe {
            probe.on_send(&sample.data, Instant::now());
        }
        let written = writer.write_sample(&sample).await;
        match written {
            Ok(()) => {
                report.packets_sent += 1;
                report.payload_bytes_sent += sample.data.len() as u64;
            }
            Err(err) => {
                if report.send_errors == 0 {
                    tracing::warn!(%err, "failed to send an audio frame");
                } else {
                    tracing::debug!(%err, "failed to send an audio frame");
                }
                report.send_errors += 1;
            }
        }
        frames += 1;
        report.audio_seconds = f64::from(frames) * FRAME_DURATION.as_secs_f64();
    }
    if let Some((packets, bytes)) = local.transport_sent().await {
        report.transport_packets_sent = Some(packets);
        report.transport_bytes_sent = Some(bytes);
        // The driver works asynchronously: the last frame or two may still be queued.
        if packets + 2 < report.packets_sent {
            tracing::warn!(
                written = report.packets_sent,
                sent = packets,
                "webrtc-rs sent fewer packets than were written"
            );
        }
    }
    Ok(report)
}
