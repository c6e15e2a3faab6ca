//! WAV output for received audio.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// A 48 kHz mono 16-bit WAV file being written.
pub struct WavRecorder {
    writer: hound::WavWriter<BufWriter<File>>,
    path: PathBuf,
    samples: u64,
}

impl WavRecorder {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path, sample_rate: u32) -> Result<Self, hound::Error> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        Ok(Self {
            writer: hound::WavWriter::create(path, spec)?,
            path: path.to_owned(),
            samples: 0,
        })
    }

    /// Appends samples.
    pub fn write(&mut self, samples: &[i16]) -> Result<(), hound::Error> {
        let mut block = self.writer.get_i16_writer(samples.len() as u32);
        for &sample in samples {
            block.write_sample(sample);
        }
        block.flush()?;
        self.samples += samples.len() as u64;
        Ok(())
    }

    /// Samples written so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Writes the header's final sizes and closes the file.
    pub fn finalize(self) -> Result<PathBuf, hound::Error> {
        self.writer.finalize()?;
        Ok(self.path)
    }
}

/// Turns an id into a safe file stem: `[A-Za-z0-9_.-]` kept, anything else `_`,
/// no leading dot, at most 64 characters, never empty.
pub fn sanitize_file_stem(name: &str) -> String {
    let mut stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    while stem.starts_with('.') {
        stem.replace_range(..1, "_");
    }
    if stem.is_empty() {
        stem.push_str("participant");
    }
    stem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_names() {
        assert_eq!(sanitize_file_stem("alice"), "alice");
        assert_eq!(sanitize_file_stem("../../etc/passwd"), "_._.._etc_passwd");
        assert_eq!(sanitize_file_stem("bob smith/ü"), "bob_smith__");
        assert_eq!(sanitize_file_stem(""), "participant");
        assert_eq!(sanitize_file_stem(".hidden"), "_hidden");
        assert_eq!(sanitize_file_stem(&"x".repeat(100)).len(), 64);
    }

    #[test]
    fn writes_a_readable_wav() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.wav");
        let mut wav = WavRecorder::create(&path, 48_000).expect("create");
        wav.write(&[1, 2, 3]).expect("write");
        wav.write(&[4]).expect("write");
        assert_eq!(wav.samples(), 4);
        wav.finalize().expect("finalize");
        let reader = hound::WavReader::open(&path).expect("open");
        assert_eq!(reader.spec().sample_rate, 48_000);
        assert_eq!(reader.spec().channels, 1);
        let samples: Vec<i16> = reader.into_samples().map(|s| s.expect("sample")).collect();
        assert_eq!(samples, vec![1, 2, 3, 4]);
    }
}
