//! Frequency analysis used by tests and by load-test checks.

use rustfft::FftPlanner;
use rustfft::num_complex::Complex;

/// The frequency (Hz) of the strongest spectral peak in `samples`, DC excluded.
///
/// Uses a Hann-windowed FFT over the whole buffer and parabolic interpolation
/// around the peak bin, so it is accurate to a small fraction of a bin.
/// Returns `0.0` for buffers shorter than 4 samples or pure silence.
pub fn dominant_frequency(samples: &[f32], sample_rate: u32) -> f32 {
    let n = samples.len();
    if n < 4 {
        return 0.0;
    }
    let mut buffer: Vec<Complex<f32>> = samples
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let w = 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / (n - 1) as f32).cos();
            Complex::new(s * w, 0.0)
        })
        .collect();
    FftPlanner::<f32>::new()
        .plan_fft_forward(n)
        .process(&mut buffer);

    let magnitudes: Vec<f32> = buffer[..n / 2].iter().map(|c| c.norm()).collect();
    let Some((peak, &peak_mag)) = magnitudes
        .iter()
        .enumerate()
        .skip(1)
        .max_by(|a, b| a.1.total_cmp(b.1))
    else {
        return 0.0;
    };
    if peak_mag <= f32::EPSILON {
        return 0.0;
    }
    let offset = if peak + 1 < magnitudes.len() {
        // Parabolic interpolation on log magnitudes (exact for a Gaussian peak,
        // close enough for a Hann window).
        let (a, b, c) = (
            magnitudes[peak - 1].max(1e-12).ln(),
            peak_mag.ln(),
            magnitudes[peak + 1].max(1e-12).ln(),
        );
        let denom = a - 2.0 * b + c;
        if denom.abs() > f32::EPSILON {
            (0.5 * (a - c) / denom).clamp(-0.5, 0.5)
        } else {
            0.0
        }
    } else {
        0.0
    };
    (peak as f32 + offset) * sample_rate as f32 / n as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_pure_sine_between_bins() {
        let rate = 16_000;
        let samples: Vec<f32> = (0..4_000)
            .map(|i| (std::f32::consts::TAU * 1_234.5 * i as f32 / rate as f32).sin())
            .collect();
        let f = dominant_frequency(&samples, rate);
        assert!((f - 1_234.5).abs() < 1.0, "got {f}");
    }

    #[test]
    fn silence_and_tiny_buffers_give_zero() {
        assert_eq!(dominant_frequency(&[0.0; 1024], 48_000), 0.0);
        assert_eq!(dominant_frequency(&[1.0, 2.0], 48_000), 0.0);
    }
}
