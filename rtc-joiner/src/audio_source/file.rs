//! Audio file decoding with symphonia.

use super::{AudioError, PCM_SAMPLE_RATE, PcmClip, downmix_to_mono, resample};
use std::path::Path;
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

/// Container/codec of an input file (`--file-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileType {
    /// RIFF WAVE (PCM).
    Wav,
    /// MPEG-1/2 layer III.
    Mp3,
    /// FLAC.
    Flac,
    /// Ogg Vorbis.
    Ogg,
}

impl FileType {
    /// The usual file extension, given to symphonia as a probe hint.
    pub fn extension(self) -> &'static str {
        match self {
            FileType::Wav => "wav",
            FileType::Mp3 => "mp3",
            FileType::Flac => "flac",
            FileType::Ogg => "ogg",
        }
    }

    /// Guesses the type from a path's extension (case-insensitive).
    pub fn from_path(path: &Path) -> Option<FileType> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "wav" | "wave" => Some(FileType::Wav),
            "mp3" => Some(FileType::Mp3),
            "flac" => Some(FileType::Flac),
            "ogg" | "oga" => Some(FileType::Ogg),
            _ => None,
        }
    }
}

/// Decodes the first audio track of `path` to 48 kHz mono.
///
/// Multi-channel audio is averaged to mono; other sample rates are resampled.
/// Corrupt packets are skipped, as a player would.
pub fn decode_file(path: &Path, file_type: FileType) -> Result<PcmClip, AudioError> {
    let display = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| AudioError::Open {
        path: display.clone(),
        source,
    })?;
    let unsupported = |err: SymphoniaError| AudioError::Unsupported {
        path: display.clone(),
        reason: err.to_string(),
    };

    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    hint.with_extension(file_type.extension());
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(unsupported)?;

    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| AudioError::Unsupported {
            path: display.clone(),
            reason: "no audio track".into(),
        })?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| AudioError::Unsupported {
            path: display.clone(),
            reason: "no audio codec parameters".into(),
        })?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(unsupported)?;

    let mut mono = Vec::new();
    let mut interleaved: Vec<f32> = Vec::new();
    let mut source_rate: Option<u32> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) | Err(SymphoniaError::ResetRequired) => break,
            // Truncated files end with an I/O error: keep what was decoded.
            Err(SymphoniaError::IoError(err)) => {
                tracing::debug!(%err, "audio file ended with an I/O error");
                break;
            }
            Err(err) => {
                return Err(AudioError::Decode {
                    path: display,
                    reason: err.to_string(),
                });
            }
        };
        if packet.track_id != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(buffer) => {
                let rate = buffer.spec().rate();
                let channels = buffer.spec().channels().count().max(1);
                match source_rate {
                    None => source_rate = Some(rate),
                    Some(r) if r != rate => {
                        return Err(AudioError::Unsupported {
                            path: display,
                            reason: format!("sample rate changes mid-stream ({r} -> {rate})"),
                        });
                    }
                    Some(_) => {}
                }
                buffer.copy_to_vec_interleaved(&mut interleaved);
                mono.extend(downmix_to_mono(&interleaved, channels));
            }
            Err(SymphoniaError::DecodeError(err)) => {
                tracing::debug!(%err, "skipping a corrupt audio packet");
            }
            Err(err) => {
                return Err(AudioError::Decode {
                    path: display,
                    reason: err.to_string(),
                });
            }
        }
    }

    let Some(rate) = source_rate.filter(|_| !mono.is_empty()) else {
        return Err(AudioError::Empty { path: display });
    };
    let samples = if rate == PCM_SAMPLE_RATE {
        mono
    } else {
        resample(&mono, rate, PCM_SAMPLE_RATE)
    };
    Ok(PcmClip::new(samples))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_source::dominant_frequency;

    fn write_wav(path: &Path, rate: u32, channels: u16, freq: f32, secs: f32) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer = hound::WavWriter::create(path, spec).expect("create wav");
        for i in 0..(rate as f32 * secs) as usize {
            let s = 0.3 * (std::f32::consts::TAU * freq * i as f32 / rate as f32).sin();
            for _ in 0..channels {
                writer
                    .write_sample((s * i16::MAX as f32) as i16)
                    .expect("write sample");
            }
        }
        writer.finalize().expect("finalize wav");
    }

    #[test]
    fn decodes_a_48k_mono_wav() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tone.wav");
        write_wav(&path, 48_000, 1, 440.0, 1.0);
        let clip = decode_file(&path, FileType::Wav).expect("decode");
        assert_eq!(clip.samples().len(), 48_000);
        let f = dominant_frequency(clip.samples(), PCM_SAMPLE_RATE);
        assert!((f - 440.0).abs() < 1.0, "got {f}");
    }

    #[test]
    fn decodes_a_44k1_stereo_wav_to_48k_mono() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tone.wav");
        write_wav(&path, 44_100, 2, 1_000.0, 0.5);
        let clip = decode_file(&path, FileType::Wav).expect("decode");
        assert_eq!(clip.samples().len(), 24_000);
        let f = dominant_frequency(clip.samples(), PCM_SAMPLE_RATE);
        assert!((f - 1_000.0).abs() < 1.0, "got {f}");
        let peak = clip.samples()[1_000..23_000]
            .iter()
            .fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((peak - 0.3).abs() < 0.01, "peak {peak}");
    }

    #[test]
    fn missing_and_garbage_files_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = decode_file(&dir.path().join("nope.wav"), FileType::Wav);
        assert!(matches!(missing, Err(AudioError::Open { .. })));
        let garbage = dir.path().join("garbage.mp3");
        std::fs::write(&garbage, b"this is not audio at all").expect("write");
        assert!(decode_file(&garbage, FileType::Mp3).is_err());
    }

    #[test]
    fn file_type_from_extension() {
        assert_eq!(
            FileType::from_path(Path::new("a/b.FLAC")),
            Some(FileType::Flac)
        );
        assert_eq!(FileType::from_path(Path::new("x.oga")), Some(FileType::Ogg));
        assert_eq!(FileType::from_path(Path::new("x.txt")), None);
        assert_eq!(FileType::from_path(Path::new("noext")), None);
    }
}
