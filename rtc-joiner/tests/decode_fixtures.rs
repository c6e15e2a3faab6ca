//! Decoding real FLAC / MP3 / Ogg Vorbis files (see `tests/fixtures/README.md`) to
//! 48 kHz mono: duration, frequency and level must survive decode + downmix + resample.

use rtc_joiner::audio_source::{FileType, PCM_SAMPLE_RATE, decode_file};
use rtc_joiner::dominant_frequency;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `extra_secs`: how much longer than 0.5 s the decode may be. SoX's MP3s carry no
/// gapless (LAME) header, so their encoder delay and padding are decoded too.
fn check(name: &str, file_type: FileType, freq: f32, extra_secs: f64) {
    let clip = decode_file(&fixture(name), file_type).expect("decodes");
    let samples = clip.samples();
    let secs = clip.duration_secs();
    assert!(
        (0.499..=0.501 + extra_secs).contains(&secs),
        "{name}: {secs} s"
    );
    let middle = &samples[samples.len() / 5..samples.len() * 4 / 5];
    let found = dominant_frequency(middle, PCM_SAMPLE_RATE);
    assert!((found - freq).abs() < 3.0, "{name}: {found} Hz");
    let peak = middle.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    assert!((peak - 0.3).abs() < 0.03, "{name}: peak {peak}");
}

#[test]
fn flac_44k1_stereo() {
    check("tone_440hz_44k1_stereo.flac", FileType::Flac, 440.0, 0.0);
}

#[test]
fn mp3_44k1_stereo() {
    check("tone_440hz_44k1_stereo.mp3", FileType::Mp3, 440.0, 0.1);
}

#[test]
fn mp3_22k05_mono() {
    check("tone_1khz_22k05_mono.mp3", FileType::Mp3, 1_000.0, 0.1);
}

#[test]
fn ogg_vorbis_44k1_stereo() {
    check("tone_440hz_44k1_stereo.ogg", FileType::Ogg, 440.0, 0.0);
}
