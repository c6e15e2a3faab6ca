//! Audio for light-engine publishers: the clip is Opus-encoded once per run and every
//! publisher loops over the same frames, so publishing costs no encoding at all.

use crate::JoinerError;
use crate::audio_source::{PcmClip, level_dbov};
use crate::opus_codec::{FRAME_SAMPLES, OpusEncoder};
use std::sync::Arc;

/// One 20 ms Opus frame and its RFC 6464 level (-dBov, 0..=127).
#[derive(Debug, Clone)]
pub struct EncodedFrame {
    /// The Opus packet.
    pub payload: Arc<[u8]>,
    /// Its audio level, -dBov.
    pub level: u8,
}

/// A clip as Opus frames, looped by [`EncodedClip::frame`].
#[derive(Debug, Clone)]
pub struct EncodedClip {
    frames: Arc<[EncodedFrame]>,
}

impl EncodedClip {
    /// Encodes every whole 20 ms frame of `clip`.
    pub fn encode(clip: &PcmClip) -> Result<Self, JoinerError> {
        let mut encoder = OpusEncoder::new()?;
        let mut frames = Vec::with_capacity(clip.samples().len() / FRAME_SAMPLES);
        for pcm in clip.samples().chunks_exact(FRAME_SAMPLES) {
            let payload: Arc<[u8]> = Arc::from(encoder.encode(pcm)?);
            frames.push(EncodedFrame {
                payload,
                level: level_dbov(pcm),
            });
        }
        if frames.is_empty() {
            return Err(JoinerError::Config(
                "the audio clip is shorter than one 20 ms frame".into(),
            ));
        }
        Ok(Self {
            frames: frames.into(),
        })
    }

    /// Frame `n` of the endless loop.
    pub fn frame(&self, n: u64) -> &EncodedFrame {
        // `frames` is never empty (checked in `encode`).
        &self.frames[(n % self.frames.len() as u64) as usize]
    }

    /// Frames in one loop.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Never true (an empty clip is refused); here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::openchat::load_tone;

    #[test]
    fn encodes_a_loop_of_distinct_frames() {
        let clip = EncodedClip::encode(&load_tone(440.0)).expect("encodes");
        assert_eq!(clip.len(), 500, "10 s of 20 ms frames");
        assert_eq!(clip.frame(0).payload, clip.frame(500).payload, "loops");
        assert_ne!(clip.frame(0).payload, clip.frame(1).payload);
        assert!(clip.frame(3).level < 30, "a 0.3 amplitude tone is loud");
    }

    #[test]
    fn refuses_a_clip_shorter_than_a_frame() {
        let err = EncodedClip::encode(&PcmClip::new(vec![0.0; 100])).expect_err("too short");
        assert_eq!(err.code(), "invalid_config");
    }
}
