//! Receiving remote audio: per-track statistics, Opus decoding and WAV recording.

pub mod playout;
pub mod stats;
pub mod wav;

pub use playout::{Placement, Playout};
pub use stats::{RtpStats, SeqStatus};
pub use wav::{WavRecorder, sanitize_file_stem};

use crate::load::RecvProbe;
use crate::opus_codec::{OpusDecoder, SAMPLE_RATE};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

/// Concealment beyond this many samples (200 ms) is plain silence.
const MAX_PLC_SAMPLES: usize = 9_600;

/// Who a remote track belongs to.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RemoteTrackInfo {
    /// Publisher's participant id (empty if it could not be resolved).
    pub participant_id: String,
    /// Publisher's user id, when known.
    pub user_id: Option<String>,
    /// The m-line the track arrives on, when known.
    pub mid: Option<String>,
    /// The `msid` track id.
    pub track_id: String,
}

/// What was received on one remote track.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReceiverReport {
    /// Whose track.
    #[serde(flatten)]
    pub info: RemoteTrackInfo,
    /// RTP packets received.
    pub packets_received: u64,
    /// Packets lost (from sequence number gaps).
    pub packets_lost: u64,
    /// Loss in percent of expected packets.
    pub loss_percent: f64,
    /// RFC 3550 interarrival jitter in milliseconds.
    pub jitter_ms: f64,
    /// Packets libopus could not decode.
    pub decode_errors: u64,
    /// Seconds of audio on the decoded timeline (received + concealed).
    pub audio_seconds: f64,
    /// The WAV file written, if recording.
    pub wav_path: Option<PathBuf>,
    /// Why recording stopped early, if it did.
    pub wav_error: Option<String>,
}

/// Who the media on one m-line currently comes from, and where to record it.
#[derive(Debug, Clone, Default)]
pub struct MidOwner {
    /// The publisher.
    pub info: RemoteTrackInfo,
    /// The WAV file for this publisher's audio, if recording.
    pub wav_path: Option<PathBuf>,
}

/// Reads `track` until it ends or `stop` flips to `true`; decodes every packet,
/// keeps loss/jitter statistics and, with a WAV path, records a WAV file whose
/// duration follows the RTP timeline (gaps are concealed).
///
/// The server may hand an idle m-line to another publisher (`track_published` naming a mid the
/// session already has, with no new offer): each change of `owner` closes the current report
/// and starts another, so there is one report (and one WAV file) per publisher heard.
///
/// With a `probe` (load mode) every packet is reported to it on arrival and nothing is decoded:
/// only sequence/jitter statistics are kept, so thousands of receivers fit in one process.
pub async fn run_receiver(
    track: Arc<dyn TrackRemote>,
    mut owner: watch::Receiver<MidOwner>,
    mut stop: watch::Receiver<bool>,
    mut probe: Option<RecvProbe>,
) -> Vec<ReceiverReport> {
    let start = |owner: MidOwner, stats_only: bool| match stats_only {
        true => ReceiverState::stats_only(owner.info),
        false => ReceiverState::new(owner.info, owner.wav_path),
    };
    let stats_only = probe.is_some();
    let mut state = start(owner.borrow_and_update().clone(), stats_only);
    let mut reports = Vec::new();
    let mut owner_open = true;
    loop {
        tokio::select! {
            event = track.poll() => match event {
                Some(TrackRemoteEvent::OnRtpPacket(packet)) => {
                    if let Some(probe) = probe.as_mut() {
                        probe.on_receive(&packet.payload, Instant::now());
                    }
                    state.on_packet(
                        packet.header.sequence_number,
                        packet.header.timestamp,
                        &packet.payload,
                    );
                }
                Some(TrackRemoteEvent::OnEnded) | None => break,
                Some(_) => {}
            },
            changed = owner.changed(), if owner_open => match changed {
                Ok(()) => {
                    let next = start(owner.borrow_and_update().clone(), stats_only);
                    reports.push(std::mem::replace(&mut state, next).finish());
                }
                Err(_) => owner_open = false,
            },
            _ = stop.wait_for(|stopped| *stopped) => break,
        }
    }
    reports.push(state.finish());
    reports
}

/// The receive pipeline of one track, independent of webrtc-rs (tested directly).
pub struct ReceiverState {
    info: RemoteTrackInfo,
    stats: RtpStats,
    playout: Playout,
    decoder: Option<OpusDecoder>,
    wav: Option<WavRecorder>,
    wav_path: Option<PathBuf>,
    wav_error: Option<String>,
    decode_errors: u64,
    timeline_samples: u64,
    started: Instant,
}

impl ReceiverState {
    /// A fresh pipeline; the WAV file (if any) is created immediately.
    pub fn new(info: RemoteTrackInfo, wav_path: Option<PathBuf>) -> Self {
        let mut wav_error = None;
        let wav = wav_path.as_ref().and_then(|path| {
            WavRecorder::create(path, SAMPLE_RATE)
                .map_err(|err| {
                    tracing::warn!(path = %path.display(), %err, "cannot create WAV file");
                    wav_error = Some(err.to_string());
                })
                .ok()
        });
        let decoder = OpusDecoder::new()
            .map_err(|err| tracing::warn!(%err, "cannot create an Opus decoder"))
            .ok();
        Self {
            info,
            stats: RtpStats::default(),
            playout: Playout::default(),
            decoder,
            wav,
            wav_path,
            wav_error,
            decode_errors: 0,
            timeline_samples: 0,
            started: Instant::now(),
        }
    }

    /// A pipeline that keeps statistics only: no decoder, no recording.
    pub fn stats_only(info: RemoteTrackInfo) -> Self {
        Self {
            info,
            stats: RtpStats::default(),
            playout: Playout::default(),
            decoder: None,
            wav: None,
            wav_path: None,
            wav_error: None,
            decode_errors: 0,
            timeline_samples: 0,
            started: Instant::now(),
        }
    }

    /// Accounts and decodes one RTP packet.
    pub fn on_packet(&mut self, seq: u16, timestamp: u32, payload: &[u8]) {
        let arrival = self.started.elapsed().as_secs_f64() * f64::from(SAMPLE_RATE);
        self.stats.record(seq, timestamp, arrival);
        if payload.is_empty() {
            return;
        }
        let gap = match self.playout.place(timestamp) {
            Placement::Late => return,
            Placement::Append { gap } => gap as usize,
        };
        let Some(decoder) = self.decoder.as_mut() else {
            return;
        };
        let mut pcm = if gap > 0 {
            decoder.conceal(gap, MAX_PLC_SAMPLES)
        } else {
            Vec::new()
        };
        match decoder.decode(payload) {
            Ok(decoded) => {
                pcm.extend_from_slice(decoded);
                self.playout.advance(timestamp, decoded.len());
            }
            Err(err) => {
                self.decode_errors += 1;
                tracing::debug!(%err, seq, "Opus decode error");
                return;
            }
        }
        self.timeline_samples += pcm.len() as u64;
        if let Some(wav) = self.wav.as_mut()
            && let Err(err) = wav.write(&pcm)
        {
            tracing::warn!(%err, "WAV write failed; recording stopped");
            self.wav_error = Some(err.to_string());
            self.wav = None;
        }
    }

    /// Finalizes the WAV file and produces the report.
    pub fn finish(mut self) -> ReceiverReport {
        let mut wav_path = None;
        if let Some(wav) = self.wav.take() {
            match wav.finalize() {
                Ok(path) => wav_path = Some(path),
                Err(err) => self.wav_error = Some(err.to_string()),
            }
        } else if self.wav_error.is_some() {
            wav_path = self.wav_path.take();
        }
        ReceiverReport {
            info: self.info,
            packets_received: self.stats.received(),
            packets_lost: self.stats.lost(),
            loss_percent: self.stats.loss_percent(),
            jitter_ms: self.stats.jitter_ms(SAMPLE_RATE),
            decode_errors: self.decode_errors,
            audio_seconds: self.timeline_samples as f64 / f64::from(SAMPLE_RATE),
            wav_path,
            wav_error: self.wav_error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_source::{ToneGenerator, dominant_frequency};
    use crate::opus_codec::{FRAME_SAMPLES, OpusEncoder};

    #[test]
    fn lost_packets_are_concealed_so_the_wav_keeps_its_duration() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("alice.wav");
        let mut state = ReceiverState::new(RemoteTrackInfo::default(), Some(path.clone()));
        let mut encoder = OpusEncoder::new().expect("encoder");
        let mut tone = ToneGenerator::new(600.0, 0.3);
        let mut frame = vec![0.0; FRAME_SAMPLES];
        let base_ts = 123_456u32;
        for n in 0..100u32 {
            tone.fill(&mut frame);
            let packet = encoder.encode(&frame).expect("encode").to_vec();
            if n % 10 == 5 {
                continue; // lost
            }
            state.on_packet((60_000 + n) as u16, base_ts.wrapping_add(n * 960), &packet);
        }
        // A late duplicate of an old packet changes nothing on the timeline.
        state.on_packet(60_000, base_ts, &[0xf8, 0xff, 0xfe]);
        let report = state.finish();
        assert_eq!(report.packets_received, 91);
        // 100 expected; 10 missing but one duplicate received -> 9 counted as lost.
        assert_eq!(report.packets_lost, 9);
        assert!((report.audio_seconds - 2.0).abs() < 1e-9);
        let reader = hound::WavReader::open(&path).expect("open wav");
        assert_eq!(reader.duration(), 96_000);
        let samples: Vec<f32> = reader
            .into_samples::<i16>()
            .map(|s| f32::from(s.expect("sample")) / 32_768.0)
            .collect();
        let found = dominant_frequency(&samples[4_800..], SAMPLE_RATE);
        assert!((found - 600.0).abs() < 5.0, "got {found}");
    }
}
