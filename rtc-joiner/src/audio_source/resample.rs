//! Offline sample-rate conversion with a windowed-sinc low-pass filter.

/// Zero crossings of the sinc kernel on each side of the centre (filter quality).
const ZERO_CROSSINGS: f64 = 16.0;
/// Kernel table entries per input sample of distance (interpolated linearly).
const TABLE_RESOLUTION: f64 = 512.0;
/// Pass-band edge as a fraction of the lower Nyquist frequency.
const PASSBAND: f64 = 0.95;

/// Resamples mono `input` from `from_rate` to `to_rate`.
///
/// A Blackman-windowed sinc interpolator with 16 zero crossings per side: flat
/// through 95 % of the lower Nyquist frequency and anti-aliased when downsampling.
/// The whole buffer is converted at once (files are decoded into memory).
pub fn resample(input: &[f32], from_rate: u32, to_rate: u32) -> Vec<f32> {
    if from_rate == to_rate || input.is_empty() || from_rate == 0 || to_rate == 0 {
        return input.to_vec();
    }
    let ratio = f64::from(to_rate) / f64::from(from_rate);
    // Cut-off in cycles per input sample relative to the input Nyquist frequency.
    let cutoff = ratio.min(1.0) * PASSBAND;
    let half_width = ZERO_CROSSINGS / cutoff;
    let kernel = KernelTable::new(cutoff, half_width);

    let out_len = (input.len() as u64 * u64::from(to_rate)).div_ceil(u64::from(from_rate)) as usize;
    let last = input.len() as i64 - 1;
    (0..out_len)
        .map(|n| {
            let centre = n as f64 / ratio;
            let first = ((centre - half_width).ceil() as i64).max(0);
            let end = ((centre + half_width).floor() as i64).min(last);
            let mut acc = 0.0f64;
            for k in first..=end {
                // `k` is within 0..input.len() thanks to the clamps above.
                acc += f64::from(input[k as usize]) * kernel.at(centre - k as f64);
            }
            acc as f32
        })
        .collect()
}

/// `h(x) = cutoff * sinc(cutoff * x) * blackman(x / half_width)`, tabulated for `x >= 0`.
struct KernelTable {
    values: Vec<f64>,
    half_width: f64,
}

impl KernelTable {
    fn new(cutoff: f64, half_width: f64) -> Self {
        let len = (half_width * TABLE_RESOLUTION).ceil() as usize + 2;
        let values = (0..len)
            .map(|i| {
                let x = i as f64 / TABLE_RESOLUTION;
                if x > half_width {
                    return 0.0;
                }
                let arg = std::f64::consts::PI * cutoff * x;
                let sinc = if arg.abs() < 1e-12 {
                    1.0
                } else {
                    arg.sin() / arg
                };
                // Blackman window over [-half_width, half_width].
                let phase = std::f64::consts::PI * (x / half_width + 1.0);
                let window = 0.42 - 0.5 * phase.cos() + 0.08 * (2.0 * phase).cos();
                cutoff * sinc * window
            })
            .collect();
        Self { values, half_width }
    }

    fn at(&self, x: f64) -> f64 {
        let x = x.abs();
        if x >= self.half_width {
            return 0.0;
        }
        let pos = x * TABLE_RESOLUTION;
        let index = pos.floor() as usize;
        let frac = pos - index as f64;
        match (self.values.get(index), self.values.get(index + 1)) {
            (Some(a), Some(b)) => a + (b - a) * frac,
            (Some(a), None) => *a,
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_source::dominant_frequency;

    fn sine(freq: f32, rate: u32, secs: f32, amplitude: f32) -> Vec<f32> {
        (0..(rate as f32 * secs) as usize)
            .map(|i| amplitude * (std::f32::consts::TAU * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    fn rms(samples: &[f32]) -> f32 {
        (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt()
    }

    #[test]
    fn upsampling_44k1_to_48k_keeps_frequency_and_level() {
        let input = sine(1_000.0, 44_100, 1.0, 0.5);
        let output = resample(&input, 44_100, 48_000);
        assert_eq!(output.len(), 48_000);
        let freq = dominant_frequency(&output, 48_000);
        assert!((freq - 1_000.0).abs() < 1.0, "got {freq} Hz");
        // Ignore the filter's edge ramps when comparing levels.
        let middle = &output[1_000..47_000];
        assert!((rms(middle) / rms(&input) - 1.0).abs() < 0.01);
    }

    #[test]
    fn downsampling_removes_content_above_new_nyquist() {
        // 5 kHz survives 48k -> 16k; 10 kHz is above 8 kHz and must be filtered out.
        let mut input = sine(5_000.0, 48_000, 0.5, 0.3);
        for (s, alias) in input.iter_mut().zip(sine(10_000.0, 48_000, 0.5, 0.3)) {
            *s += alias;
        }
        let output = resample(&input, 48_000, 16_000);
        let freq = dominant_frequency(&output, 16_000);
        assert!((freq - 5_000.0).abs() < 2.0, "got {freq} Hz");
        // Total level is that of the 5 kHz sine alone (0.3 / sqrt 2).
        let level = rms(&output[200..7_800]);
        assert!((level - 0.212).abs() < 0.01, "rms {level}");
    }

    #[test]
    fn identity_and_empty() {
        assert_eq!(resample(&[0.1, 0.2], 48_000, 48_000), vec![0.1, 0.2]);
        assert!(resample(&[], 44_100, 48_000).is_empty());
    }
}
