//! Sine tone generation.

use super::PCM_SAMPLE_RATE;

/// The default tone amplitude (about -10 dBFS peak).
pub const DEFAULT_TONE_AMPLITUDE: f32 = 0.3;

/// A continuous-phase sine generator at [`PCM_SAMPLE_RATE`].
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    phase: f64,
    step: f64,
    amplitude: f32,
}

impl ToneGenerator {
    /// A sine of `frequency_hz` with peak `amplitude` (1.0 = full scale).
    pub fn new(frequency_hz: f64, amplitude: f32) -> Self {
        Self {
            phase: 0.0,
            step: std::f64::consts::TAU * frequency_hz / f64::from(PCM_SAMPLE_RATE),
            amplitude,
        }
    }

    /// Writes the next `out.len()` samples.
    pub fn fill(&mut self, out: &mut [f32]) {
        for slot in out {
            *slot = self.amplitude * self.phase.sin() as f32;
            self.phase = (self.phase + self.step) % std::f64::consts::TAU;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_source::dominant_frequency;

    #[test]
    fn tone_has_requested_frequency_and_amplitude() {
        let mut tone = ToneGenerator::new(1_000.0, 0.3);
        let mut samples = vec![0.0; 48_000];
        tone.fill(&mut samples);
        let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((peak - 0.3).abs() < 0.001, "peak {peak}");
        let freq = dominant_frequency(&samples, PCM_SAMPLE_RATE);
        assert!((freq - 1_000.0).abs() < 1.0, "got {freq}");
    }

    #[test]
    fn phase_is_continuous_across_frames() {
        let mut split = ToneGenerator::new(440.0, 0.3);
        let mut whole = ToneGenerator::new(440.0, 0.3);
        let mut a = vec![0.0; 960];
        let mut b = vec![0.0; 960];
        split.fill(&mut a);
        split.fill(&mut b);
        let mut both = vec![0.0; 1920];
        whole.fill(&mut both);
        a.extend_from_slice(&b);
        assert_eq!(a, both);
    }
}
