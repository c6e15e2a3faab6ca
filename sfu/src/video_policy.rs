//! What video rooms allow: their codecs, how many participants may publish video at once, and
//! the bitrate each video source may use. Set per process in the `[media]` section (voice rooms
//! carry no video).

use std::time::Duration;

/// A video codec a room may allow. AV1 is not among them yet: an AV1-only offer is refused with
/// `codec_not_allowed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    Vp8,
    H264,
    Vp9,
}

impl VideoCodec {
    /// Every codec, in the order a room prefers them by default.
    pub const ALL: [VideoCodec; 3] = [VideoCodec::Vp8, VideoCodec::H264, VideoCodec::Vp9];

    /// The name in the config (`vp8`, `h264`, `vp9`).
    pub fn as_str(self) -> &'static str {
        match self {
            VideoCodec::Vp8 => "vp8",
            VideoCodec::H264 => "h264",
            VideoCodec::Vp9 => "vp9",
        }
    }

    /// The codec named `name` in the config (case-insensitive).
    pub fn parse(name: &str) -> Option<VideoCodec> {
        VideoCodec::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// Whether an SDP `a=rtpmap` encoding (`VP8/90000`) is this codec.
    pub fn is_encoding(self, encoding: &str) -> bool {
        encoding
            .split('/')
            .next()
            .is_some_and(|name| name.eq_ignore_ascii_case(self.as_str()))
    }
}

/// The rules of video rooms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoPolicy {
    /// Codecs offered and accepted, in order of preference.
    pub codecs: Vec<VideoCodec>,
    /// Participants that may publish video (camera or screenshare) in one room at once.
    pub max_video_publishers: usize,
    /// Bitrate a camera track may use, bits per second (REMB to the publisher).
    pub max_camera_bitrate_bps: u64,
    /// Bitrate a screenshare track may use, bits per second.
    pub max_screenshare_bitrate_bps: u64,
    /// Simulcast layers forwarded per track (1-3): the lowest of those offered; the publisher is
    /// told (dynacast) to stop the others.
    pub max_simulcast_layers: u8,
}

impl Default for VideoPolicy {
    fn default() -> Self {
        VideoPolicy {
            codecs: VideoCodec::ALL.to_vec(),
            max_video_publishers: 16,
            max_camera_bitrate_bps: 2_500_000,
            max_screenshare_bitrate_bps: 4_000_000,
            max_simulcast_layers: 3,
        }
    }
}

impl VideoPolicy {
    /// The comma-separated names of the allowed codecs (`vp8, h264`), for messages.
    pub fn codec_names(&self) -> String {
        self.codecs
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// How often a video publisher is told its bitrate cap again (REMB is a standing limit; resending
/// it covers a lost report and a publisher that reset its estimator).
pub const BITRATE_CAP_REFRESH: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_names_parse_and_match_rtpmap_encodings() {
        assert_eq!(VideoCodec::parse(" H264 "), Some(VideoCodec::H264));
        assert_eq!(VideoCodec::parse("av1"), None);
        assert!(VideoCodec::Vp8.is_encoding("VP8/90000"));
        assert!(!VideoCodec::Vp8.is_encoding("VP9/90000"));
        assert_eq!(VideoPolicy::default().codec_names(), "vp8, h264, vp9");
    }
}
