//! The [`LoadClient`] for `openchatd`: each slot is a [`Joiner`] with a development user.

use super::engine::{JoinFuture, LoadClient, Slot};
use super::probe::JoinProbe;
use super::setup::Rooms;
use crate::Joiner;
use crate::audio_source::PcmClip;
use crate::cli::{Auth, JoinerConfig, MediaInput};
use tokio::sync::watch;

/// Joins `openchatd` rooms as development users `<run_id>-u<index>`.
pub struct OpenChatClient {
    /// Template: backend, media mode, bind addresses, connect timeout. Channel, auth, media
    /// and duration are set per slot.
    pub template: JoinerConfig,
    /// Where slots go (room `i` is `rooms.channels[i]`).
    pub rooms: Rooms,
    /// Prefix of user ids.
    pub run_id: String,
    /// What publishers send.
    pub publish: Publish,
    /// ICE check pacing of every joiner.
    pub ice_check_interval: std::time::Duration,
    /// Video publishers send (their camera), besides audio.
    pub video: crate::cli::VideoInput,
}

/// Publishers' audio.
#[derive(Clone)]
pub enum Publish {
    /// A decoded clip shared by every publisher, looped.
    Clip(PcmClip),
}

/// Seconds of the generated load tone (it loops; longer than the probe's match window).
const TONE_SECS: usize = 10;

/// A tone with a little deterministic noise, so that no two 20 ms Opus frames within the
/// probe's match window are byte-identical (a pure tone repeats its frames every few periods,
/// which would make end-to-end matching ambiguous).
pub fn load_tone(hz: f64) -> PcmClip {
    let rate = 48_000usize;
    let mut state: u32 = 0x9e37_79b9;
    let samples = (0..TONE_SECS * rate)
        .map(|n| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (f64::from(state >> 8) / f64::from(1u32 << 24) - 0.5) * 0.02;
            let t = n as f64 / rate as f64;
            (0.3 * (2.0 * std::f64::consts::PI * hz * t).sin() + noise) as f32
        })
        .collect();
    PcmClip::new(samples)
}

/// User id of a slot.
pub fn user_id(run_id: &str, index: usize) -> String {
    format!("{run_id}-u{index}")
}

impl LoadClient for OpenChatClient {
    fn join(&self, slot: Slot, probe: JoinProbe, mut stop: watch::Receiver<bool>) -> JoinFuture {
        let mut config = self.template.clone();
        config.server_id = self.rooms.server_id.clone();
        config.channel_id =
            self.rooms.channels[slot.room % self.rooms.channels.len().max(1)].clone();
        config.auth = Auth::DevUser {
            user_id: user_id(&self.run_id, slot.index),
            device_id: None,
        };
        config.duration = None;
        config.write_received_dir = None;
        let joiner = match (&self.publish, slot.publishes) {
            (_, false) => {
                config.media = MediaInput::Listen;
                Joiner::new(config)
            }
            (Publish::Clip(clip), true) => {
                config.video = self.video.clone();
                config.media = MediaInput::File {
                    path: "clip".into(),
                    file_type: crate::audio_source::FileType::Wav,
                    looping: true,
                };
                Joiner::with_clip(config, clip.clone())
            }
        };
        let joiner = joiner
            .with_probe(probe)
            .with_ice_check_interval(self.ice_check_interval);
        Box::pin(async move {
            joiner
                .run(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_tone_frames_are_distinct() {
        let clip = load_tone(440.0);
        assert_eq!(clip.samples().len(), TONE_SECS * 48_000);
        let frames: Vec<&[f32]> = clip.samples().chunks(960).take(100).collect();
        let mut hashes: Vec<u64> = frames
            .iter()
            .map(|f| {
                let bytes: Vec<u8> = f.iter().flat_map(|s| s.to_le_bytes()).collect();
                crate::load::probe::payload_hash(&bytes)
            })
            .collect();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), 100);
        let found = crate::dominant_frequency(clip.samples(), 48_000);
        assert!((found - 440.0).abs() < 5.0, "{found}");
    }
}
