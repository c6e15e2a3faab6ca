//! Opus at 48 kHz mono, 20 ms frames: the only media format `pcm-frames` mode sends.

use opus::{Application, Bitrate, Channels};
use std::time::Duration;

/// Opus' sample rate, also its RTP clock rate.
pub const SAMPLE_RATE: u32 = 48_000;
/// Frame duration in milliseconds.
pub const FRAME_MS: u32 = 20;
/// Samples per 20 ms frame at 48 kHz mono.
pub const FRAME_SAMPLES: usize = (SAMPLE_RATE / 1_000 * FRAME_MS) as usize;
/// Frame duration.
pub const FRAME_DURATION: Duration = Duration::from_millis(FRAME_MS as u64);
/// Largest Opus packet we produce (RFC 6716 recommends 1275 bytes max per frame).
const MAX_PACKET_BYTES: usize = 1_275;
/// Longest frame a decoder may return (120 ms).
const MAX_FRAME_SAMPLES: usize = 5_760;
/// Packet loss concealment works in 2.5 ms steps.
const PLC_GRANULE: usize = 120;

/// Encodes 20 ms mono frames.
pub struct OpusEncoder {
    inner: opus::Encoder,
    packet: Vec<u8>,
}

impl OpusEncoder {
    /// An encoder for general audio at 32 kbit/s with in-band FEC.
    pub fn new() -> Result<Self, opus::Error> {
        let mut inner = opus::Encoder::new(SAMPLE_RATE, Channels::Mono, Application::Audio)?;
        inner.set_bitrate(Bitrate::Bits(32_000))?;
        inner.set_inband_fec(true)?;
        Ok(Self {
            inner,
            packet: vec![0; MAX_PACKET_BYTES],
        })
    }

    /// Encodes one frame of [`FRAME_SAMPLES`] samples in `[-1.0, 1.0]`.
    pub fn encode(&mut self, pcm: &[f32]) -> Result<&[u8], opus::Error> {
        let len = self.inner.encode_float(pcm, &mut self.packet)?;
        Ok(&self.packet[..len])
    }
}

/// Decodes received packets to 48 kHz mono 16-bit PCM, with loss concealment.
pub struct OpusDecoder {
    inner: opus::Decoder,
    pcm: Vec<i16>,
    last_frame_samples: usize,
}

impl OpusDecoder {
    /// A 48 kHz mono decoder.
    pub fn new() -> Result<Self, opus::Error> {
        Ok(Self {
            inner: opus::Decoder::new(SAMPLE_RATE, Channels::Mono)?,
            pcm: vec![0; MAX_FRAME_SAMPLES],
            last_frame_samples: FRAME_SAMPLES,
        })
    }

    /// Decodes one packet.
    pub fn decode(&mut self, packet: &[u8]) -> Result<&[i16], opus::Error> {
        let samples = self.inner.decode(packet, &mut self.pcm, false)?;
        if samples > 0 {
            self.last_frame_samples = samples;
        }
        Ok(&self.pcm[..samples])
    }

    /// Produces `samples` samples of concealment for lost packets: the decoder's
    /// packet-loss concealment for up to `max_plc_samples`, then silence.
    pub fn conceal(&mut self, samples: usize, max_plc_samples: usize) -> Vec<i16> {
        let mut out = Vec::with_capacity(samples);
        let plc_total = samples.min(max_plc_samples);
        while out.len() < plc_total {
            let want = (plc_total - out.len())
                .min(self.last_frame_samples)
                .min(MAX_FRAME_SAMPLES);
            // PLC only produces whole 2.5 ms granules.
            let want = want - want % PLC_GRANULE;
            if want == 0 {
                break;
            }
            match self.inner.decode(&[], &mut self.pcm[..want], false) {
                Ok(n) if n > 0 => out.extend_from_slice(&self.pcm[..n.min(want)]),
                _ => break,
            }
        }
        out.resize(samples, 0);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_source::{ToneGenerator, dominant_frequency};

    fn round_trip(freq: f64, frames: usize) -> Vec<f32> {
        let mut tone = ToneGenerator::new(freq, 0.3);
        let mut encoder = OpusEncoder::new().expect("encoder");
        let mut decoder = OpusDecoder::new().expect("decoder");
        let mut frame = vec![0.0f32; FRAME_SAMPLES];
        let mut decoded = Vec::new();
        for _ in 0..frames {
            tone.fill(&mut frame);
            let packet = encoder.encode(&frame).expect("encode").to_vec();
            assert!(!packet.is_empty() && packet.len() < 400);
            let pcm = decoder.decode(&packet).expect("decode");
            assert_eq!(pcm.len(), FRAME_SAMPLES);
            decoded.extend(pcm.iter().map(|&s| f32::from(s) / 32_768.0));
        }
        decoded
    }

    #[test]
    fn tone_survives_an_opus_round_trip() {
        for freq in [440.0, 1_000.0, 3_150.0] {
            let decoded = round_trip(freq, 50);
            // Skip the codec's start-up (look-ahead and ramp).
            let steady = &decoded[4_800..];
            let found = dominant_frequency(steady, SAMPLE_RATE);
            assert!(
                (found - freq as f32).abs() < 3.0,
                "sent {freq} Hz, got {found} Hz"
            );
            let peak = steady.iter().fold(0.0f32, |m, s| m.max(s.abs()));
            assert!((0.2..0.4).contains(&peak), "peak {peak}");
        }
    }

    #[test]
    fn concealment_fills_the_requested_length() {
        let mut decoder = OpusDecoder::new().expect("decoder");
        let mut encoder = OpusEncoder::new().expect("encoder");
        let frame = vec![0.1f32; FRAME_SAMPLES];
        let packet = encoder.encode(&frame).expect("encode").to_vec();
        decoder.decode(&packet).expect("decode");
        assert_eq!(decoder.conceal(2 * FRAME_SAMPLES, 5_760).len(), 1_920);
        // An odd gap: PLC up to the cap, then exact-length silence.
        let filled = decoder.conceal(1_000, 480);
        assert_eq!(filled.len(), 1_000);
        assert!(filled[480..].iter().all(|&s| s == 0));
    }
}
