//! Sfu configuration, owned by the sfu: [`MediaSettings`] is the `[media]` section of
//! `openchatd`'s config file (openchatd embeds it without restating it), [`SfuConfig`] what
//! [`Sfu::start`](crate::Sfu::start) takes. One validation for both: [`SfuConfig::validate`].

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::video_policy::{VideoCodec, VideoPolicy};

/// The `[media]` settings section, as operators write it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaSettings {
    /// Address the UDP sockets bind to.
    pub bind_ip: IpAddr,
    /// First UDP port (worker `i` uses `port + i`); 0 for ephemeral ports.
    pub port: u16,
    /// Worker threads, each with its own UDP port.
    pub workers: usize,
    /// Address advertised in ICE candidates (default: `bind_ip`).
    pub advertised_ip: Option<IpAddr>,
    /// Drop a peer after this many seconds without traffic.
    pub peer_timeout_secs: u64,
    /// A new peer's media (ICE and DTLS) must connect within this many seconds of joining.
    pub connect_timeout_secs: u64,
    /// A video publisher is asked for a keyframe at most once per this many milliseconds per
    /// track, however many subscribers ask (requests in between are held, then sent as one).
    pub keyframe_request_interval_ms: u64,
    /// Video codecs video rooms offer and accept, comma separated, in order of preference:
    /// `vp8`, `h264` (constrained baseline and others, packetization mode 1 or 0), `vp9`.
    pub video_codecs: String,
    /// Participants that may publish video (camera or screenshare) in one video room at once.
    pub max_video_publishers: usize,
    /// Bitrate cap of a camera track, kbit/s (sent to the publisher as REMB).
    pub max_camera_kbps: u64,
    /// Bitrate cap of a screenshare track, kbit/s.
    pub max_screenshare_kbps: u64,
    /// Simulcast layers forwarded per video track (1-3, the lowest of those offered).
    pub max_simulcast_layers: u8,
}

impl Default for MediaSettings {
    /// [`SfuConfig`]'s defaults, on the well-known port 7882.
    fn default() -> Self {
        let sfu = SfuConfig::default();
        MediaSettings {
            bind_ip: sfu.bind_ip,
            port: 7882,
            workers: sfu.workers,
            advertised_ip: sfu.advertised_ip,
            peer_timeout_secs: sfu.peer_timeout.as_secs(),
            connect_timeout_secs: sfu.connect_timeout.as_secs(),
            keyframe_request_interval_ms: sfu.keyframe_request_interval.as_millis() as u64,
            video_codecs: sfu.video.codec_names().replace(' ', ""),
            max_video_publishers: sfu.video.max_video_publishers,
            max_camera_kbps: sfu.video.max_camera_bitrate_bps / 1000,
            max_screenshare_kbps: sfu.video.max_screenshare_bitrate_bps / 1000,
            max_simulcast_layers: sfu.video.max_simulcast_layers,
        }
    }
}

impl MediaSettings {
    /// The configuration these settings start the sfu with.
    pub fn sfu_config(&self) -> SfuConfig {
        SfuConfig {
            bind_ip: self.bind_ip,
            base_port: self.port,
            workers: self.workers,
            advertised_ip: self.advertised_ip,
            peer_timeout: Duration::from_secs(self.peer_timeout_secs),
            connect_timeout: Duration::from_secs(self.connect_timeout_secs),
            keyframe_request_interval: Duration::from_millis(self.keyframe_request_interval_ms),
            video: VideoPolicy {
                codecs: self.parsed_video_codecs().unwrap_or_default(),
                max_video_publishers: self.max_video_publishers,
                max_camera_bitrate_bps: self.max_camera_kbps.saturating_mul(1000),
                max_screenshare_bitrate_bps: self.max_screenshare_kbps.saturating_mul(1000),
                max_simulcast_layers: self.max_simulcast_layers,
            },
            ..SfuConfig::default()
        }
    }

    /// Checks the settings; the error names the setting (`workers`, `advertised_ip`, ...).
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.parsed_video_codecs().is_none() {
            return Err(InvalidSetting {
                key: "video_codecs",
                problem: "must name one or more of vp8, h264, vp9, comma separated, each once",
            });
        }
        self.sfu_config().validate()
    }

    /// `video_codecs` as codecs; `None` when a name is unknown, repeated, or there is none.
    fn parsed_video_codecs(&self) -> Option<Vec<VideoCodec>> {
        let mut codecs = Vec::new();
        for name in self.video_codecs.split(',') {
            let codec = VideoCodec::parse(name)?;
            if codecs.contains(&codec) {
                return None;
            }
            codecs.push(codec);
        }
        (!codecs.is_empty()).then_some(codecs)
    }
}

/// A setting that cannot work: its key within the `[media]` section and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct InvalidSetting {
    /// The key, as in [`MediaSettings`] (`workers`, `peer_timeout_secs`, ...).
    pub key: &'static str,
    /// What is wrong.
    pub problem: &'static str,
}

/// How the media plane binds and behaves.
#[derive(Clone, Debug)]
pub struct SfuConfig {
    /// Address the UDP sockets bind to.
    pub bind_ip: IpAddr,
    /// First UDP port; worker `i` binds `base_port + i`. 0 picks ephemeral ports.
    pub base_port: u16,
    /// Number of worker threads (each owns one UDP port).
    pub workers: usize,
    /// Address advertised in ICE host candidates (defaults to `bind_ip`).
    pub advertised_ip: Option<IpAddr>,
    /// Drop a peer after this long without any packet from it (ICE consent lapsed).
    pub peer_timeout: Duration,
    /// Drop a peer that has not completed ICE+DTLS within this long of joining.
    pub connect_timeout: Duration,
    /// End a peer (`negotiation_timeout`) that has not answered a server offer within this long.
    pub negotiation_timeout: Duration,
    /// At most one keyframe request toward a video track's publisher per this long.
    pub keyframe_request_interval: Duration,
    /// What video rooms allow.
    pub video: VideoPolicy,
}

impl Default for SfuConfig {
    fn default() -> Self {
        SfuConfig {
            bind_ip: IpAddr::from([127, 0, 0, 1]),
            base_port: 0,
            workers: 1,
            advertised_ip: None,
            peer_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(30),
            negotiation_timeout: Duration::from_secs(10),
            keyframe_request_interval: Duration::from_millis(500),
            video: VideoPolicy::default(),
        }
    }
}

impl SfuConfig {
    /// Checks the values that cannot work; the error names the [`MediaSettings`] key.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let bad = |key, problem| Err(InvalidSetting { key, problem });
        if self.workers == 0 || self.workers > 256 {
            return bad("workers", "must be 1..=256");
        }
        if self.base_port != 0 && usize::from(self.base_port) + self.workers > 65536 {
            return bad("port", "port + workers exceeds 65535");
        }
        if self.bind_ip.is_unspecified() && self.advertised_ip.is_none() {
            return bad("advertised_ip", "required when bind_ip is 0.0.0.0 or ::");
        }
        if self.negotiation_timeout < Duration::from_secs(1) {
            return bad("negotiation_timeout", "must be at least 1 s");
        }
        if self.peer_timeout < Duration::from_secs(2) {
            return bad("peer_timeout_secs", "must be at least 2");
        }
        if !(Duration::from_secs(2)..=Duration::from_secs(3600)).contains(&self.connect_timeout) {
            return bad("connect_timeout_secs", "must be 2..=3600");
        }
        let keyframes = Duration::from_millis(50)..=Duration::from_secs(10);
        if !keyframes.contains(&self.keyframe_request_interval) {
            return bad("keyframe_request_interval_ms", "must be 50..=10000");
        }
        if self.video.codecs.is_empty() {
            return bad("video_codecs", "must name at least one codec");
        }
        if self.video.max_video_publishers == 0 {
            return bad("max_video_publishers", "must be at least 1");
        }
        let bitrates = 50_000..=100_000_000;
        if !bitrates.contains(&self.video.max_camera_bitrate_bps) {
            return bad("max_camera_kbps", "must be 50..=100000");
        }
        if !bitrates.contains(&self.video.max_screenshare_bitrate_bps) {
            return bad("max_screenshare_kbps", "must be 50..=100000");
        }
        if !(1..=3).contains(&self.video.max_simulcast_layers) {
            return bad("max_simulcast_layers", "must be 1..=3");
        }
        Ok(())
    }
}
