//! Encoded video clips read from files, sent as they are (no encoding at run time): IVF
//! (VP8, VP9, AV1) and Annex-B H.264 (split into access units).

use super::h264;
use crate::JoinerError;
use bytes::Bytes;
use std::path::Path;
use std::time::Duration;

/// A video codec the joiner can send from a file and record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoCodec {
    /// VP8 (IVF `VP80`).
    Vp8,
    /// VP9 (IVF `VP90`).
    Vp9,
    /// AV1 (IVF `AV01`).
    Av1,
    /// H.264, constrained baseline, packetization mode 1 (Annex-B file).
    H264,
}

impl VideoCodec {
    /// The codec named by an RTP MIME type (`video/VP8`), if the joiner knows it.
    pub fn from_mime(mime: &str) -> Option<VideoCodec> {
        match mime.to_ascii_lowercase().as_str() {
            "video/vp8" => Some(VideoCodec::Vp8),
            "video/vp9" => Some(VideoCodec::Vp9),
            "video/av1" => Some(VideoCodec::Av1),
            "video/h264" => Some(VideoCodec::H264),
            _ => None,
        }
    }

    /// The codec an `a=rtpmap` name (`VP8`, `h264`) names.
    pub fn from_rtp_name(name: &str) -> Option<VideoCodec> {
        Self::from_mime(&format!("video/{name}"))
    }

    /// The codec's name in `a=rtpmap`.
    pub fn rtp_name(self) -> &'static str {
        match self {
            VideoCodec::Vp8 => "VP8",
            VideoCodec::Vp9 => "VP9",
            VideoCodec::Av1 => "AV1",
            VideoCodec::H264 => "H264",
        }
    }

    /// Whether received frames are written as IVF (else as Annex-B H.264).
    pub fn is_ivf(self) -> bool {
        self != VideoCodec::H264
    }

    /// The IVF FourCC.
    pub fn fourcc(self) -> [u8; 4] {
        match self {
            VideoCodec::Vp8 => *b"VP80",
            VideoCodec::Vp9 => *b"VP90",
            VideoCodec::Av1 => *b"AV01",
            VideoCodec::H264 => *b"H264",
        }
    }

    /// Whether `frame` (a whole frame or access unit) can be decoded on its own.
    pub fn is_keyframe(self, frame: &[u8]) -> bool {
        match self {
            // RFC 6386 9.1: the frame tag's low bit is 0 on a key frame.
            VideoCodec::Vp8 => frame.first().is_some_and(|b| b & 0x01 == 0),
            VideoCodec::Vp9 => vp9_is_keyframe(frame),
            // A temporal unit that starts a coded video sequence carries its sequence header.
            VideoCodec::Av1 => av1_has_sequence_header(frame),
            VideoCodec::H264 => h264::nal_units(frame).any(|nal| h264::nal_type(nal) == 5),
        }
    }

    /// The picture size a keyframe announces, when the codec header says it plainly.
    pub fn keyframe_size(self, frame: &[u8]) -> Option<(u32, u32)> {
        match self {
            VideoCodec::Vp8 => vp8_keyframe_size(frame),
            VideoCodec::H264 => h264::nal_units(frame)
                .find(|nal| h264::nal_type(nal) == 7)
                .and_then(h264::sps_size),
            VideoCodec::Vp9 | VideoCodec::Av1 => None,
        }
    }
}

/// The shortest and longest time between frames a clip may have (1000 fps, 1 fps).
const MIN_FRAME_DURATION: Duration = Duration::from_millis(1);
const MAX_FRAME_DURATION: Duration = Duration::from_secs(1);

/// One encoded frame (an access unit for H.264).
#[derive(Debug, Clone)]
pub struct VideoFrame {
    /// The frame as the codec's RTP payloader takes it (Annex-B for H.264).
    pub data: Bytes,
    /// Decodable on its own.
    pub keyframe: bool,
}

/// A clip: its frames, in order, one every `frame_duration`.
#[derive(Debug, Clone)]
pub struct VideoClip {
    /// Codec of every frame.
    pub codec: VideoCodec,
    /// Picture size (IVF header, or the first SPS; 0 when unknown).
    pub width: u32,
    /// Picture height.
    pub height: u32,
    /// Time between frames.
    pub frame_duration: Duration,
    /// The frames (the first is a keyframe).
    pub frames: Vec<VideoFrame>,
}

impl VideoClip {
    /// Reads an IVF file (by its `DKIF` signature) or an Annex-B H.264 file (anything starting
    /// with a start code). `h264_fps` paces H.264, which carries no timing of its own.
    pub fn read(path: &Path, h264_fps: u32) -> Result<VideoClip, JoinerError> {
        let bytes = std::fs::read(path).map_err(|e| {
            JoinerError::Config(format!("cannot read video file {}: {e}", path.display()))
        })?;
        let clip = if bytes.starts_with(b"DKIF") {
            read_ivf(&bytes)
        } else if bytes.starts_with(&[0, 0, 1]) || bytes.starts_with(&[0, 0, 0, 1]) {
            read_annex_b(&bytes, h264_fps)
        } else {
            Err("neither IVF (DKIF) nor Annex-B H.264 (no start code)".to_owned())
        };
        clip.map_err(|reason| {
            JoinerError::Config(format!("video file {}: {reason}", path.display()))
        })
    }

    /// Length of one pass.
    pub fn duration(&self) -> Duration {
        self.frame_duration * self.frames.len() as u32
    }
}

/// IVF: a 32-byte file header, then per frame a 12-byte header (size, 64-bit timestamp) and
/// the frame.
fn read_ivf(bytes: &[u8]) -> Result<VideoClip, String> {
    let header = bytes.get(..32).ok_or("IVF header cut short")?;
    let le16 = |at: usize| u16::from_le_bytes([header[at], header[at + 1]]);
    let le32 = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let codec = match &header[8..12] {
        b"VP80" => VideoCodec::Vp8,
        b"VP90" => VideoCodec::Vp9,
        b"AV01" => VideoCodec::Av1,
        other => {
            return Err(format!(
                "IVF codec {:?} is not VP8, VP9 or AV1",
                String::from_utf8_lossy(other)
            ));
        }
    };
    let header_len = usize::from(le16(6)).max(32);
    let (rate, scale) = (le32(16), le32(20));
    if rate == 0 || scale == 0 {
        return Err("IVF time base is zero".to_owned());
    }
    let mut frames = Vec::new();
    let mut timestamps = Vec::new();
    let mut at = header_len;
    while at < bytes.len() {
        let frame_header = bytes
            .get(at..at + 12)
            .ok_or("a frame header is cut short")?;
        let size = u32::from_le_bytes([
            frame_header[0],
            frame_header[1],
            frame_header[2],
            frame_header[3],
        ]) as usize;
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&frame_header[4..12]);
        let data = bytes
            .get(at + 12..at + 12 + size)
            .ok_or("a frame is cut short")?;
        frames.push(VideoFrame {
            keyframe: codec.is_keyframe(data),
            data: Bytes::copy_from_slice(data),
        });
        timestamps.push(u64::from_le_bytes(ts));
        at += 12 + size;
    }
    // The header's time base is 1/rate * scale seconds per tick; frames step by the clip's
    // mean timestamp step (1 tick for most encoders; 33 or 34 in a 1/1000 time base at 30 fps).
    let span = match (timestamps.first(), timestamps.last()) {
        (Some(first), Some(last)) if timestamps.len() > 1 && last > first => {
            Some((last - first) as f64 / (timestamps.len() - 1) as f64)
        }
        _ => None,
    };
    let step = span.unwrap_or(1.0);
    let frame_duration = Duration::from_secs_f64(step * f64::from(scale) / f64::from(rate));
    if !(MIN_FRAME_DURATION..=MAX_FRAME_DURATION).contains(&frame_duration) {
        return Err(format!(
            "a frame every {:.3} ms is not a video frame rate",
            frame_duration.as_secs_f64() * 1e3
        ));
    }
    finish(
        codec,
        u32::from(le16(12)),
        u32::from(le16(14)),
        frame_duration,
        frames,
    )
}

/// Annex-B H.264, split into access units.
fn read_annex_b(bytes: &[u8], fps: u32) -> Result<VideoClip, String> {
    if fps == 0 {
        return Err("the frame rate is zero".to_owned());
    }
    let units = h264::access_units(bytes);
    if let Some(sps) = units
        .iter()
        .find_map(|au| h264::nal_units(au).find(|nal| h264::nal_type(nal) == 7))
    {
        // What the m-line offers: Constrained Baseline (profile_idc 66, constraint_set1).
        let (profile, constraints) = (sps.get(1).copied(), sps.get(2).copied());
        if profile != Some(66) || constraints.is_some_and(|c| c & 0x40 == 0) {
            return Err(format!(
                "H.264 profile_idc {} is not Constrained Baseline (encode with \
                 `-profile:v baseline`)",
                profile.unwrap_or(0)
            ));
        }
    }
    let frames: Vec<VideoFrame> = h264::with_parameter_sets(units)
        .into_iter()
        .map(|au| VideoFrame {
            keyframe: VideoCodec::H264.is_keyframe(&au),
            data: Bytes::from(au),
        })
        .collect();
    let (width, height) = frames
        .iter()
        .find_map(|f| VideoCodec::H264.keyframe_size(&f.data))
        .unwrap_or((0, 0));
    let frame_duration = Duration::from_secs_f64(1.0 / f64::from(fps));
    finish(VideoCodec::H264, width, height, frame_duration, frames)
}

fn finish(
    codec: VideoCodec,
    width: u32,
    height: u32,
    frame_duration: Duration,
    mut frames: Vec<VideoFrame>,
) -> Result<VideoClip, String> {
    // A clip is looped: it starts on a keyframe so every pass is decodable from its start.
    let first_key = frames
        .iter()
        .position(|f| f.keyframe)
        .ok_or("the clip has no keyframe")?;
    frames.drain(..first_key);
    Ok(VideoClip {
        codec,
        width,
        height,
        frame_duration,
        frames,
    })
}

/// RFC 6386 9.1: a key frame's start code (9d 01 2a) is followed by 14-bit width and height.
pub fn vp8_keyframe_size(frame: &[u8]) -> Option<(u32, u32)> {
    if frame.first()? & 0x01 != 0 || frame.get(3..6)? != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let size = frame.get(6..10)?;
    let width = u16::from_le_bytes([size[0], size[1]]) & 0x3fff;
    let height = u16::from_le_bytes([size[2], size[3]]) & 0x3fff;
    Some((u32::from(width), u32::from(height)))
}

/// VP9 uncompressed header: frame marker (2 bits), profile (2, plus a reserved bit in profile
/// 3), show_existing_frame, frame_type (0: key).
fn vp9_is_keyframe(frame: &[u8]) -> bool {
    let Some(&b) = frame.first() else {
        return false;
    };
    if b >> 6 != 0b10 {
        return false;
    }
    let profile = ((b >> 5) & 1) | (((b >> 4) & 1) << 1);
    let mut bit = 4; // the next bit, counting from the most significant
    if profile == 3 {
        bit += 1;
    }
    let show_existing = (b >> (7 - bit)) & 1 == 1;
    if show_existing {
        return false;
    }
    bit += 1;
    bit <= 7 && (b >> (7 - bit)) & 1 == 0
}

/// Whether an AV1 temporal unit (low-overhead OBU stream) carries a sequence header OBU.
fn av1_has_sequence_header(unit: &[u8]) -> bool {
    let mut at = 0;
    while let Some(&header) = unit.get(at) {
        let obu_type = (header >> 3) & 0x0f;
        if obu_type == 1 {
            return true;
        }
        let extension = header & 0x04 != 0;
        let has_size = header & 0x02 != 0;
        at += 1 + usize::from(extension);
        if !has_size {
            return false;
        }
        let Some((size, len)) = leb128(&unit[at.min(unit.len())..]) else {
            return false;
        };
        at += len + size;
    }
    false
}

fn leb128(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for (i, b) in bytes.iter().take(8).enumerate() {
        value |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ivf(fourcc: &[u8; 4], frames: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(b"DKIF");
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&32u16.to_le_bytes());
        out.extend_from_slice(fourcc);
        out.extend_from_slice(&320u16.to_le_bytes());
        out.extend_from_slice(&180u16.to_le_bytes());
        out.extend_from_slice(&30u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&(frames.len() as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        for (i, f) in frames.iter().enumerate() {
            out.extend_from_slice(&(f.len() as u32).to_le_bytes());
            out.extend_from_slice(&(i as u64).to_le_bytes());
            out.extend_from_slice(f);
        }
        out
    }

    #[test]
    fn an_ivf_clip_starts_on_its_first_keyframe() {
        let key: &[u8] = &[0x10, 0, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00];
        let delta: &[u8] = &[0x11, 1, 2];
        let bytes = ivf(b"VP80", &[delta, key, delta, delta]);
        let clip = read_ivf(&bytes).expect("parses");
        assert_eq!(clip.codec, VideoCodec::Vp8);
        assert_eq!((clip.width, clip.height), (320, 180));
        assert_eq!(clip.frames.len(), 3);
        assert!(clip.frames[0].keyframe && !clip.frames[1].keyframe);
        assert_eq!(vp8_keyframe_size(&clip.frames[0].data), Some((320, 180)));
        let ms = clip.frame_duration.as_secs_f64() * 1000.0;
        assert!((ms - 33.33).abs() < 0.1, "{ms}");
    }

    #[test]
    fn a_millisecond_time_base_paces_at_the_mean_step() {
        let mut bytes = ivf(b"VP80", &[]);
        bytes[16..20].copy_from_slice(&1000u32.to_le_bytes());
        let key: &[u8] = &[0x10, 0, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00];
        // 30 fps in milliseconds: 0, 33, 67, 100.
        for (i, ts) in [0u64, 33, 67, 100].iter().enumerate() {
            let frame = if i == 0 { key } else { &[0x11, 1, 2][..] };
            bytes.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            bytes.extend_from_slice(&ts.to_le_bytes());
            bytes.extend_from_slice(frame);
        }
        let clip = read_ivf(&bytes).expect("parses");
        let ms = clip.frame_duration.as_secs_f64() * 1000.0;
        assert!((ms - 33.33).abs() < 0.01, "{ms}");
    }

    #[test]
    fn broken_ivf_is_refused() {
        let mut bytes = ivf(b"VP80", &[&[0x10, 0, 0]]);
        bytes.truncate(bytes.len() - 1);
        assert!(read_ivf(&bytes).unwrap_err().contains("cut short"));
        assert!(
            read_ivf(&ivf(b"XXXX", &[]))
                .unwrap_err()
                .contains("not VP8")
        );
        assert!(
            read_ivf(&ivf(b"VP80", &[&[0x11]]))
                .unwrap_err()
                .contains("no keyframe")
        );
    }

    #[test]
    fn vp9_and_av1_keyframes() {
        // Profile 0: 10 0 0 0 (show_existing 0) then frame_type 0.
        assert!(vp9_is_keyframe(&[0b1000_0000]));
        assert!(!vp9_is_keyframe(&[0b1000_0100]));
        // Temporal delimiter (type 2, size 0), then a sequence header (type 1).
        assert!(av1_has_sequence_header(&[0x12, 0x00, 0x0a, 0x01, 0x00]));
        assert!(!av1_has_sequence_header(&[0x12, 0x00, 0x32, 0x01, 0x00]));
    }
}
