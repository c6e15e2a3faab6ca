//! Checks on what the test produces: received WAV audio and PNG screenshots.

use std::path::Path;

use anyhow::{Context, bail};

/// Length and loudness of a WAV file.
#[derive(Debug)]
pub struct WavSummary {
    /// Seconds of audio (per channel).
    pub seconds: f64,
    /// Root mean square of all samples, full scale = 1.0.
    pub rms: f64,
}

/// Reads a WAV file (integer or float samples).
pub fn wav_summary(path: &Path) -> anyhow::Result<WavSummary> {
    let mut reader =
        hound::WavReader::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let spec = reader.spec();
    let samples: Vec<f64> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .map(|s| s.map(f64::from))
            .collect::<Result<_, _>>()?,
        hound::SampleFormat::Int => {
            let scale = f64::from(1u32 << (spec.bits_per_sample - 1));
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| f64::from(v) / scale))
                .collect::<Result<_, _>>()?
        }
    };
    if samples.is_empty() {
        bail!("{} holds no samples", path.display());
    }
    let frames = samples.len() / usize::from(spec.channels.max(1));
    let rms = (samples.iter().map(|s| s * s).sum::<f64>() / samples.len() as f64).sqrt();
    Ok(WavSummary {
        seconds: frames as f64 / f64::from(spec.sample_rate),
        rms,
    })
}

/// Decodes a PNG; returns its width and height, failing on a blank (single-colour) image.
pub fn png_dimensions(bytes: &[u8]) -> anyhow::Result<(u32, u32)> {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().context("not a PNG")?;
    let mut pixels = vec![0; reader.output_buffer_size().context("PNG too large")?];
    let frame = reader
        .next_frame(&mut pixels)
        .context("PNG does not decode")?;
    let pixels = &pixels[..frame.buffer_size()];
    let pixel = frame.color_type.samples() * (frame.bit_depth as usize).div_ceil(8);
    let first = &pixels[..pixel.min(pixels.len())];
    if frame.width == 0 || pixels.chunks(pixel).all(|p| p == first) {
        bail!("the screenshot is blank");
    }
    Ok((frame.width, frame.height))
}
