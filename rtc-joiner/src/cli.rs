//! Command-line flags (`clap`) and their validation into a [`JoinerConfig`].
//!
//! Every flag error is a `clap::Error`, so the binary prints a clap-style message and
//! exits with status 2.

use crate::audio_source::FileType;
use clap::error::ErrorKind;
use clap::{ArgGroup, CommandFactory, Parser, ValueEnum};
use openchat_protocol::Alphabet;
use reqwest::Url;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Joins an OpenChat RTC room like a client and streams test audio as Opus.
#[derive(Debug, Clone, Parser)]
#[command(name = "rtc-joiner", version, about)]
#[command(group(ArgGroup::new("auth").required(true).args(["token", "user"])))]
pub struct Cli {
    /// Voice channel to join.
    #[arg(long)]
    pub channel_id: String,

    /// Server (guild) the channel belongs to.
    #[arg(long, default_value = "srv_harbor")]
    pub server_id: String,

    /// Backend base URL (HTTP API and signaling WebSocket).
    #[arg(long, default_value = "http://localhost:8080", value_parser = parse_backend_url)]
    pub backend_url: Url,

    /// Access token (JWT) to authenticate with.
    #[arg(long)]
    pub token: Option<String>,

    /// Mint a development token for this user id (`POST /v1/dev/token`).
    #[arg(long)]
    pub user: Option<String>,

    /// Device id for the development token.
    #[arg(long, requires = "user")]
    pub device_id: Option<String>,

    /// Audio file to stream (decoded, downmixed to mono, resampled to 48 kHz).
    #[arg(long, conflicts_with = "tone_hz")]
    pub file: Option<PathBuf>,

    /// Format of --file (default: guessed from its extension).
    #[arg(long, value_enum, requires = "file")]
    pub file_type: Option<FileType>,

    /// Stream a sine tone of this frequency (Hz) instead of a file.
    #[arg(long, value_parser = parse_tone_hz)]
    pub tone_hz: Option<f64>,

    /// How media is produced and sent.
    #[arg(long, value_enum, default_value_t = MediaMode::PcmFrames)]
    pub media_mode: MediaMode,

    /// Repeat the file forever.
    #[arg(long = "loop", requires = "file")]
    pub looping: bool,

    /// Stop after this many seconds (default: when the file ends; forever otherwise).
    #[arg(long, value_parser = parse_duration_secs)]
    pub duration: Option<Duration>,

    /// Record each remote participant's audio as `<dir>/<user_id>.wav`.
    #[arg(long)]
    pub write_received_dir: Option<PathBuf>,

    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,

    /// Log filter (`error`, `warn`, `info`, `debug`, `trace`, or tracing directives).
    #[arg(long, default_value = "info")]
    pub log_level: String,

    /// Local UDP address for media (default: 127.0.0.1 for a loopback backend, else all
    /// interfaces).
    #[arg(long)]
    pub bind: Option<String>,

    /// Give up if media is not connected after this many seconds.
    #[arg(long, default_value = "20", value_parser = parse_duration_secs)]
    pub connect_timeout: Duration,

    /// The key of the self-signed DTLS certificate: `ecdsa-p256` (what browsers use) or
    /// `rsa-2048` (what GStreamer's webrtcbin uses).
    #[arg(long, value_enum, default_value_t = DtlsCertificate::EcdsaP256)]
    pub dtls_certificate: DtlsCertificate,

    /// Publish a camera from this encoded file (IVF: VP8, VP9, AV1; or Annex-B H.264), looped.
    /// Repeat it (up to 3 times, lowest resolution first) to publish simulcast encodings
    /// `q`, `h`, `f`: one file per encoding, same codec and frame rate. Needs a video room.
    #[arg(long = "video", value_name = "FILE")]
    pub video: Vec<PathBuf>,

    /// Publish a screenshare from this encoded file (as --video, one encoding).
    #[arg(long = "screen", value_name = "FILE")]
    pub screen: Option<PathBuf>,

    /// Frame rate of H.264 files, which carry no timing (IVF files carry their own).
    #[arg(long, default_value = "30", value_parser = clap::value_parser!(u32).range(1..=240))]
    pub video_fps: u32,

    /// How received video is shown, told to the server per remote video track
    /// (`track_settings`) so it forwards the simulcast layer that fits: `WIDTHxHEIGHT` or
    /// `paused`. Default: nothing is told (the server sends what the bandwidth allows).
    #[arg(long, value_parser = parse_render_size)]
    pub render_size: Option<RenderSize>,
}

/// The most simulcast encodings a track has (`q`, `h`, `f`).
pub const MAX_VIDEO_LAYERS: usize = 3;

/// What the joiner tells the server about how it shows remote video (`--render-size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum RenderSize {
    /// Shown at this size, in pixels.
    Size {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
    /// Not shown: nothing of the track is wanted.
    Paused,
}

/// Video the joiner publishes (`--video`, `--screen`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VideoInput {
    /// Camera files, one per simulcast encoding, lowest first (empty: no camera).
    pub camera: Vec<PathBuf>,
    /// Screenshare file.
    pub screen: Option<PathBuf>,
    /// Frame rate of H.264 files.
    pub h264_fps: u32,
}

impl VideoInput {
    /// Whether any video is published.
    pub fn publishes(&self) -> bool {
        !self.camera.is_empty() || self.screen.is_some()
    }
}

/// `--dtls-certificate` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
pub enum DtlsCertificate {
    /// ECDSA on P-256 (webrtc-rs's default, as browsers do).
    #[value(name = "ecdsa-p256")]
    EcdsaP256,
    /// RSA, 2048 bits, signing with PKCS#1 v1.5 SHA-256.
    #[value(name = "rsa-2048")]
    Rsa2048,
}

/// `--media-mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
pub enum MediaMode {
    /// PCM cut into 20 ms frames, Opus-encoded, sent as RTP in real time.
    PcmFrames,
}

/// How the joiner authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// A ready-made access token.
    Token(String),
    /// Mint a development token.
    DevUser {
        /// User id.
        user_id: String,
        /// Optional device id.
        device_id: Option<String>,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Token(_) => f.write_str("Token(<redacted>)"),
            Auth::DevUser { user_id, device_id } => f
                .debug_struct("DevUser")
                .field("user_id", user_id)
                .field("device_id", device_id)
                .finish(),
        }
    }
}

/// What the joiner publishes.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaInput {
    /// Nothing: offer a `recvonly` audio m-line.
    Listen,
    /// A decoded file.
    File {
        /// Path.
        path: PathBuf,
        /// Format.
        file_type: FileType,
        /// Repeat forever.
        looping: bool,
    },
    /// A sine tone.
    Tone {
        /// Frequency in Hz.
        hz: f64,
    },
}

/// A validated joiner configuration (what [`Joiner`](crate::Joiner) runs).
#[derive(Debug, Clone)]
pub struct JoinerConfig {
    /// Backend base URL.
    pub backend_url: Url,
    /// Server id.
    pub server_id: String,
    /// Channel id.
    pub channel_id: String,
    /// Authentication.
    pub auth: Auth,
    /// What to publish.
    pub media: MediaInput,
    /// How to send it.
    pub media_mode: MediaMode,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Where to record remote audio.
    pub write_received_dir: Option<PathBuf>,
    /// Local UDP addresses for the peer connection.
    pub udp_addrs: Vec<String>,
    /// Deadline for media to connect.
    pub connect_timeout: Duration,
    /// The DTLS certificate's key.
    pub dtls_certificate: DtlsCertificate,
    /// Video to publish.
    pub video: VideoInput,
    /// How remote video is shown.
    pub render_size: Option<RenderSize>,
}

impl Cli {
    /// Validates the flags that clap cannot check alone.
    pub fn into_config(self) -> Result<JoinerConfig, clap::Error> {
        let mut cmd = Cli::command();
        if self.device_id.is_some() && self.user.is_none() {
            return Err(cmd.error(
                ErrorKind::MissingRequiredArgument,
                "--device-id only applies to --user (a --token carries its own device)",
            ));
        }
        let auth = match (self.token, self.user) {
            (Some(token), None) if !token.trim().is_empty() => Auth::Token(token),
            (Some(_), None) => {
                return Err(cmd.error(ErrorKind::InvalidValue, "--token must not be empty"));
            }
            (None, Some(user_id)) => {
                for (flag, id) in [
                    ("--user", Some(&user_id)),
                    ("--device-id", self.device_id.as_ref()),
                ] {
                    if let Some(id) = id
                        && !Alphabet::PRINCIPAL.accepts(id)
                    {
                        return Err(cmd.error(
                            ErrorKind::InvalidValue,
                            format!("{flag} must match {}", Alphabet::PRINCIPAL.pattern()),
                        ));
                    }
                }
                Auth::DevUser {
                    user_id,
                    device_id: self.device_id,
                }
            }
            // clap's "auth" group already rejects both/neither.
            _ => {
                return Err(cmd.error(
                    ErrorKind::ArgumentConflict,
                    "exactly one of --token or --user is required",
                ));
            }
        };

        let media = match (self.file, self.tone_hz) {
            (Some(path), None) => {
                let file_type = match self.file_type.or_else(|| FileType::from_path(&path)) {
                    Some(t) => t,
                    None => {
                        return Err(cmd.error(
                            ErrorKind::MissingRequiredArgument,
                            format!(
                                "--file-type is required: cannot tell the format of {} \
                                 from its extension",
                                path.display()
                            ),
                        ));
                    }
                };
                MediaInput::File {
                    path,
                    file_type,
                    looping: self.looping,
                }
            }
            (None, Some(hz)) => MediaInput::Tone { hz },
            (None, None) => MediaInput::Listen,
            (Some(_), Some(_)) => {
                return Err(cmd.error(
                    ErrorKind::ArgumentConflict,
                    "--file and --tone-hz cannot be used together",
                ));
            }
        };

        let udp_addrs = match self.bind {
            Some(bind) => vec![normalize_bind(&bind).ok_or_else(|| {
                cmd.error(
                    ErrorKind::InvalidValue,
                    format!("--bind {bind:?} is not an IP address or IP:port"),
                )
            })?],
            None => vec![default_bind(&self.backend_url)],
        };

        if self.video.len() > MAX_VIDEO_LAYERS {
            return Err(cmd.error(
                ErrorKind::TooManyValues,
                format!("--video takes at most {MAX_VIDEO_LAYERS} files (simulcast q, h, f)"),
            ));
        }
        let video = VideoInput {
            camera: self.video,
            screen: self.screen,
            h264_fps: self.video_fps,
        };
        // Read once here so a bad file is a usage error (the joiner reads them again to send).
        if video.publishes()
            && let Err(err) = crate::video::load_tracks(&video)
        {
            return Err(cmd.error(ErrorKind::InvalidValue, err.to_string()));
        }

        Ok(JoinerConfig {
            backend_url: self.backend_url,
            server_id: self.server_id,
            channel_id: self.channel_id,
            auth,
            media,
            media_mode: self.media_mode,
            duration: self.duration,
            write_received_dir: self.write_received_dir,
            udp_addrs,
            connect_timeout: self.connect_timeout,
            dtls_certificate: self.dtls_certificate,
            video,
            render_size: self.render_size,
        })
    }
}

/// Parses `--render-size`: `WIDTHxHEIGHT` or `paused`.
pub fn parse_render_size(value: &str) -> Result<RenderSize, String> {
    if value == "paused" {
        return Ok(RenderSize::Paused);
    }
    let (w, h) = value
        .split_once('x')
        .ok_or_else(|| "expected WIDTHxHEIGHT (e.g. 320x180) or `paused`".to_owned())?;
    let side = |v: &str| match v.parse::<u32>() {
        Ok(n) if (1..=16_384).contains(&n) => Ok(n),
        _ => Err(format!("{v:?} is not a size from 1 to 16384 pixels")),
    };
    Ok(RenderSize::Size {
        width: side(w)?,
        height: side(h)?,
    })
}

fn parse_backend_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|err| format!("not a URL: {err}"))?;
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(format!("scheme must be http or https, not {other}")),
    }
    if url.host_str().is_none() {
        return Err("the URL has no host".to_owned());
    }
    Ok(url)
}

fn parse_tone_hz(value: &str) -> Result<f64, String> {
    let hz: f64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number"))?;
    if hz.is_finite() && hz > 0.0 && hz < 24_000.0 {
        Ok(hz)
    } else {
        Err("must be above 0 and below 24000 Hz (the Nyquist frequency at 48 kHz)".to_owned())
    }
}

fn parse_duration_secs(value: &str) -> Result<Duration, String> {
    let secs: f64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number of seconds"))?;
    if secs.is_finite() && secs > 0.0 && secs < 1e9 {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err("must be a positive number of seconds".to_owned())
    }
}

/// `ip` or `ip:port` -> `ip:port` (port 0 = ephemeral).
fn normalize_bind(bind: &str) -> Option<String> {
    if let Ok(addr) = bind.parse::<std::net::SocketAddr>() {
        return Some(addr.to_string());
    }
    let ip: std::net::IpAddr = bind.trim_matches(|c| c == '[' || c == ']').parse().ok()?;
    Some(std::net::SocketAddr::new(ip, 0).to_string())
}

/// A loopback backend is reached over loopback; webrtc-rs skips loopback interfaces
/// when binding a wildcard, so name 127.0.0.1 explicitly then.
fn default_bind(backend: &Url) -> String {
    let loopback = match backend.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if loopback {
        "127.0.0.1:0".to_owned()
    } else {
        "0.0.0.0:0".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<JoinerConfig, clap::Error> {
        let mut argv = vec!["rtc-joiner"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv)?.into_config()
    }

    #[test]
    fn minimal_listen_only() {
        let config = parse(&["--channel-id", "vc_general", "--user", "alice"]).expect("valid");
        assert_eq!(config.server_id, "srv_harbor");
        assert_eq!(config.backend_url.as_str(), "http://localhost:8080/");
        assert_eq!(config.media, MediaInput::Listen);
        assert_eq!(config.udp_addrs, vec!["127.0.0.1:0".to_owned()]);
        assert_eq!(
            config.auth,
            Auth::DevUser {
                user_id: "alice".into(),
                device_id: None
            }
        );
    }

    #[test]
    fn file_type_is_inferred_or_required() {
        let config = parse(&[
            "--channel-id",
            "c",
            "--user",
            "u",
            "--file",
            "a.FLAC",
            "--loop",
        ])
        .expect("valid");
        assert_eq!(
            config.media,
            MediaInput::File {
                path: "a.FLAC".into(),
                file_type: FileType::Flac,
                looping: true
            }
        );
        let err = parse(&["--channel-id", "c", "--user", "u", "--file", "a.bin"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(err.exit_code(), 2);
        let explicit = parse(&[
            "--channel-id",
            "c",
            "--user",
            "u",
            "--file",
            "a.bin",
            "--file-type",
            "mp3",
        ])
        .expect("valid");
        assert!(matches!(
            explicit.media,
            MediaInput::File {
                file_type: FileType::Mp3,
                ..
            }
        ));
    }

    #[test]
    fn flag_errors_exit_with_2() {
        let cases: &[&[&str]] = &[
            &["--user", "alice"],
            &["--channel-id", "c"],
            &["--channel-id", "c", "--user", "a", "--token", "t"],
            &["--channel-id", "c", "--user", "a", "--tone-hz", "0"],
            &[
                "--channel-id",
                "c",
                "--user",
                "a",
                "--tone-hz",
                "440",
                "--file",
                "x.wav",
            ],
            &["--channel-id", "c", "--user", "a", "--loop"],
            &["--channel-id", "c", "--user", "a", "--duration", "-1"],
            &[
                "--channel-id",
                "c",
                "--user",
                "a",
                "--backend-url",
                "ftp://x",
            ],
            &[
                "--channel-id",
                "c",
                "--user",
                "a",
                "--media-mode",
                "rtp-passthrough",
            ],
            &["--channel-id", "c", "--user", "a b"],
            &["--channel-id", "c", "--token", "t", "--device-id", "d"],
            &["--channel-id", "c", "--user", "a", "--bind", "nowhere"],
        ];
        for args in cases {
            let err = parse(args).expect_err(&format!("{args:?} must fail"));
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn token_is_redacted_and_binds_follow_the_backend() {
        let config = parse(&[
            "--channel-id",
            "c",
            "--token",
            "secret.jwt.value",
            "--backend-url",
            "https://chat.example.com",
            "--tone-hz",
            "440",
            "--duration",
            "2.5",
        ])
        .expect("valid");
        assert!(!format!("{config:?}").contains("secret"));
        assert_eq!(config.udp_addrs, vec!["0.0.0.0:0".to_owned()]);
        assert_eq!(config.media, MediaInput::Tone { hz: 440.0 });
        assert_eq!(config.duration, Some(Duration::from_millis(2_500)));
        let bound =
            parse(&["--channel-id", "c", "--user", "u", "--bind", "10.1.2.3"]).expect("valid");
        assert_eq!(bound.udp_addrs, vec!["10.1.2.3:0".to_owned()]);
    }
}
