//! PCM audio sources: decoded files, generated tones, and the tools they need
//! (resampling, downmixing, frequency analysis).
//!
//! Everything here produces 48 kHz mono `f32` samples in `[-1.0, 1.0]`, cut into
//! frames by [`PcmSource::next_frame`].

mod analysis;
mod file;
mod resample;
mod tone;

pub use analysis::dominant_frequency;
pub use file::{FileType, decode_file};
pub use resample::resample;
pub use tone::{DEFAULT_TONE_AMPLITUDE, ToneGenerator};

use std::sync::Arc;

/// The sample rate of every PCM buffer handed to the sender (Opus' native rate).
pub const PCM_SAMPLE_RATE: u32 = 48_000;

/// Why an audio source could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file's path.
        path: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// symphonia does not recognise the container or codec.
    #[error("unsupported audio in {path}: {reason}")]
    Unsupported {
        /// The file's path.
        path: String,
        /// What symphonia said.
        reason: String,
    },
    /// The stream is corrupt beyond recovery.
    #[error("cannot decode {path}: {reason}")]
    Decode {
        /// The file's path.
        path: String,
        /// What symphonia said.
        reason: String,
    },
    /// The file decoded to no samples at all.
    #[error("{path} contains no audio samples")]
    Empty {
        /// The file's path.
        path: String,
    },
}

/// A decoded clip: 48 kHz mono samples, shared cheaply between joiners.
#[derive(Debug, Clone)]
pub struct PcmClip {
    samples: Arc<[f32]>,
}

impl PcmClip {
    /// Wraps 48 kHz mono samples.
    pub fn new(samples: Vec<f32>) -> Self {
        Self {
            samples: samples.into(),
        }
    }

    /// The samples.
    pub fn samples(&self) -> &[f32] {
        &self.samples
    }

    /// The clip's duration in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.samples.len() as f64 / f64::from(PCM_SAMPLE_RATE)
    }
}

/// Where the audio a joiner publishes comes from.
#[derive(Debug, Clone)]
pub enum PcmSource {
    /// A generated sine, endless.
    Tone(ToneGenerator),
    /// A decoded clip, played once or looped.
    Clip {
        /// The clip.
        clip: PcmClip,
        /// Read position in samples.
        position: usize,
        /// Start again at the end.
        looping: bool,
    },
}

impl PcmSource {
    /// A source playing `clip` from the start.
    pub fn clip(clip: PcmClip, looping: bool) -> Self {
        PcmSource::Clip {
            clip,
            position: 0,
            looping,
        }
    }

    /// Fills `out` with the next frame. A final partial frame is padded with silence.
    ///
    /// Returns `false` (and leaves `out` untouched) once a non-looping clip has ended.
    pub fn next_frame(&mut self, out: &mut [f32]) -> bool {
        match self {
            PcmSource::Tone(tone) => {
                tone.fill(out);
                true
            }
            PcmSource::Clip {
                clip,
                position,
                looping,
            } => {
                let samples = clip.samples();
                if samples.is_empty() || (*position >= samples.len() && !*looping) {
                    return false;
                }
                for slot in out.iter_mut() {
                    if *position >= samples.len() {
                        if *looping {
                            *position = 0;
                        } else {
                            *slot = 0.0;
                            continue;
                        }
                    }
                    *slot = samples[*position];
                    *position += 1;
                }
                true
            }
        }
    }
}

/// Averages interleaved multi-channel samples down to mono.
pub fn downmix_to_mono(interleaved: &[f32], channels: usize) -> Vec<f32> {
    if channels <= 1 {
        return interleaved.to_vec();
    }
    let scale = 1.0 / channels as f32;
    interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() * scale)
        .collect()
}

/// RMS level of `samples` in dBov (0 = full scale), at most 127 below full scale,
/// as carried by the RFC 6464 audio-level header extension.
pub fn level_dbov(samples: &[f32]) -> u8 {
    if samples.is_empty() {
        return 127;
    }
    let mean_square = samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32;
    if mean_square <= 0.0 {
        return 127;
    }
    let db = 10.0 * mean_square.log10();
    // `db` is <= ~0 for normalised audio; RFC 6464 carries -dBov in 0..=127.
    (-db).round().clamp(0.0, 127.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_pads_last_frame_then_ends() {
        let mut source = PcmSource::clip(PcmClip::new(vec![0.5; 5]), false);
        let mut frame = [1.0f32; 4];
        assert!(source.next_frame(&mut frame));
        assert_eq!(frame, [0.5; 4]);
        assert!(source.next_frame(&mut frame));
        assert_eq!(frame, [0.5, 0.0, 0.0, 0.0]);
        assert!(!source.next_frame(&mut frame));
    }

    #[test]
    fn looping_clip_wraps_around() {
        let mut source = PcmSource::clip(PcmClip::new(vec![1.0, 2.0, 3.0]), true);
        let mut frame = [0.0f32; 4];
        assert!(source.next_frame(&mut frame));
        assert_eq!(frame, [1.0, 2.0, 3.0, 1.0]);
        assert!(source.next_frame(&mut frame));
        assert_eq!(frame, [2.0, 3.0, 1.0, 2.0]);
    }

    #[test]
    fn downmix_averages_channels() {
        assert_eq!(downmix_to_mono(&[1.0, 0.0, 0.5, 0.5], 2), vec![0.5, 0.5]);
    }

    #[test]
    fn level_of_full_scale_and_silence() {
        assert_eq!(level_dbov(&[0.0; 10]), 127);
        assert_eq!(level_dbov(&[1.0; 10]), 0);
        // A 0.3 sine has an RMS of 0.212 -> about 13 dB below full scale.
        let mut tone = ToneGenerator::new(440.0, 0.3);
        let mut frame = vec![0.0; 960];
        tone.fill(&mut frame);
        assert_eq!(level_dbov(&frame), 13);
    }
}
