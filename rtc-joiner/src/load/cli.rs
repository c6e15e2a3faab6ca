//! `rtc-joiner load ...`: flags of load mode and the run they describe.

use super::engine::{LoadPlan, run_load};
use super::light::{EncodedClip, HubPool, LightOpenChatClient};
use super::openchat::{OpenChatClient, Publish, load_tone, user_id};
use super::setup::{Rooms, create_rooms};
use super::summary::LoadSummary;
use crate::JoinerError;
use crate::audio_source::{FileType, decode_file};
use crate::cli::{
    Auth, DtlsCertificate, JoinerConfig, MediaInput, MediaMode, RenderSize, VideoInput,
};
use crate::signaling_client::ApiClient;
use clap::Parser;
use reqwest::Url;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The joiners' WebRTC stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// str0m peers multiplexed on hub threads.
    Str0m,
    /// One webrtc-rs peer connection per joiner.
    #[value(name = "webrtc-rs")]
    WebrtcRs,
}

/// Many joiners from one process: ramps them into rooms, measures, reports.
#[derive(Debug, Clone, Parser)]
#[command(name = "rtc-joiner load", version)]
pub struct LoadCli {
    /// Backend base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub backend_url: Url,
    /// Joiners to start.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=20_000))]
    pub joiners: u32,
    /// Joiners that publish audio (the first P to join); the rest only listen.
    #[arg(long, default_value_t = 1)]
    pub publishers: u32,
    /// Rooms to spread joiners over (round-robin). More than one creates a throwaway server
    /// with that many voice channels through the control-plane API.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub rooms: u32,
    /// With one room: the channel to join.
    #[arg(long, default_value = "vc_general")]
    pub channel_id: String,
    /// With one room: its server.
    #[arg(long, default_value = "srv_harbor")]
    pub server_id: String,
    /// Joins per second.
    #[arg(long, default_value_t = 20.0)]
    pub ramp: f64,
    /// Seconds of measurement once everyone is connected.
    #[arg(long, default_value_t = 20.0)]
    pub duration: f64,
    /// Seconds to wait between the last connection and the measurement.
    #[arg(long, default_value_t = 2.0)]
    pub settle: f64,
    /// Seconds to wait for joiners to connect after the ramp.
    #[arg(long, default_value_t = 30.0)]
    pub connect_timeout: f64,
    /// Publishers send a tone of this frequency with a little noise (looped 10 s clip)...
    #[arg(long, default_value_t = 440.0, conflicts_with = "file")]
    pub tone_hz: f64,
    /// ... or this file, looped.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// WebRTC stack of the joiners: `str0m` (light: every peer on a few hub threads, one
    /// socket each, Opus encoded once) or `webrtc-rs` (one full webrtc-rs peer connection per
    /// joiner, like `rtc-joiner` itself; heavier, for interoperability).
    #[arg(long, value_enum, default_value_t = Engine::Str0m)]
    pub engine: Engine,
    /// Hub threads of the str0m engine.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub media_threads: u32,
    /// Pacing of ICE connectivity checks, ms, of the webrtc-rs engine (browsers: about 50;
    /// webrtc-rs default: 200).
    #[arg(long, default_value_t = 50)]
    pub ice_check_interval_ms: u64,
    /// Process id of the server, to measure its CPU time and memory.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Prometheus endpoint to read the forwarded-packet counter from (default: <backend>/metrics;
    /// "none" to skip).
    #[arg(long)]
    pub metrics_url: Option<String>,
    /// Prefix of the generated user ids (default: random).
    #[arg(long)]
    pub run_id: Option<String>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No live progress on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Log filter.
    #[arg(long, default_value = "error")]
    pub log_level: String,
    /// Publishers also publish a camera from these encoded files (as `rtc-joiner --video`:
    /// repeat for simulcast, lowest first). Needs `--engine webrtc-rs` and a video channel.
    #[arg(long = "video", value_name = "FILE")]
    pub video: Vec<PathBuf>,
    /// Frame rate of H.264 `--video` files.
    #[arg(long, default_value = "30", value_parser = clap::value_parser!(u32).range(1..=240))]
    pub video_fps: u32,
    /// How every joiner shows received video (`WIDTHxHEIGHT` or `paused`), told to the server.
    #[arg(long, value_parser = crate::cli::parse_render_size)]
    pub render_size: Option<RenderSize>,
}

fn secs(value: f64, flag: &str) -> Result<Duration, JoinerError> {
    if (0.0..1e7).contains(&value) {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(JoinerError::Config(format!(
            "--{flag} must be a number of seconds"
        )))
    }
}

impl LoadCli {
    /// The plan these flags describe.
    pub fn plan(&self) -> Result<LoadPlan, JoinerError> {
        if self.publishers > self.joiners {
            return Err(JoinerError::Config(
                "--publishers cannot exceed --joiners".into(),
            ));
        }
        if !self.video.is_empty() && self.engine != Engine::WebrtcRs {
            return Err(JoinerError::Config(
                "--video needs --engine webrtc-rs (the light str0m engine sends audio only)".into(),
            ));
        }
        if !self.video.is_empty() && self.rooms > 1 {
            return Err(JoinerError::Config(
                "--video runs in one room: give a video channel with --channel-id".into(),
            ));
        }
        if self.video.len() > crate::cli::MAX_VIDEO_LAYERS {
            return Err(JoinerError::Config(format!(
                "--video takes at most {} files (simulcast q, h, f)",
                crate::cli::MAX_VIDEO_LAYERS
            )));
        }
        if !(self.ramp.is_finite() && self.ramp > 0.0) {
            return Err(JoinerError::Config("--ramp must be positive".into()));
        }
        let metrics_url = match self.metrics_url.as_deref() {
            Some("none") => None,
            Some(url) => Some(
                Url::parse(url)
                    .map_err(|err| JoinerError::Config(format!("--metrics-url: {err}")))?,
            ),
            None => self.backend_url.join("/metrics").ok(),
        };
        Ok(LoadPlan {
            target: self.backend_url.to_string(),
            joiners: self.joiners as usize,
            publishers: self.publishers as usize,
            rooms: self.rooms as usize,
            ramp_per_sec: self.ramp,
            settle: secs(self.settle, "settle")?,
            window: secs(self.duration, "duration")?,
            connect_timeout: secs(self.connect_timeout, "connect-timeout")?,
            server_pid: self.server_pid,
            metrics_url,
            progress: !self.quiet,
        })
    }

    /// Sets up rooms, runs the load and reports.
    pub async fn run(self) -> Result<LoadSummary, JoinerError> {
        let plan = self.plan()?;
        let run_id = self
            .run_id
            .clone()
            .unwrap_or_else(|| format!("load{:06x}", rand::random::<u32>() & 0xff_ffff));
        let rooms = if plan.rooms > 1 {
            let users: Vec<String> = (0..plan.joiners).map(|i| user_id(&run_id, i)).collect();
            create_rooms(&self.backend_url, &run_id, plan.rooms, &users).await?
        } else {
            Rooms {
                server_id: self.server_id.clone(),
                channels: vec![self.channel_id.clone()],
            }
        };
        let clip = match &self.file {
            Some(path) => {
                let file_type = FileType::from_path(path).ok_or_else(|| {
                    JoinerError::Config(format!("cannot tell the format of {}", path.display()))
                })?;
                let path = path.clone();
                tokio::task::spawn_blocking(move || decode_file(&path, file_type))
                    .await
                    .map_err(|err| JoinerError::Io(std::io::Error::other(err)))??
            }
            None => load_tone(self.tone_hz),
        };
        let connect_timeout = plan.connect_timeout + plan.window + Duration::from_secs(60);
        if self.engine == Engine::Str0m {
            let encoded = EncodedClip::encode(&clip)?;
            let hubs = HubPool::start(
                self.media_threads as usize,
                std::net::Ipv4Addr::LOCALHOST.into(),
                encoded,
            )?;
            let client = LightOpenChatClient {
                api: ApiClient::new(self.backend_url.clone())?,
                rooms,
                run_id,
                hubs,
                connect_timeout,
            };
            return Ok(run_load(&plan, Arc::new(client)).await);
        }
        let template = JoinerConfig {
            backend_url: self.backend_url.clone(),
            server_id: rooms.server_id.clone(),
            channel_id: String::new(),
            auth: Auth::Token(String::new()),
            media: MediaInput::Listen,
            media_mode: MediaMode::PcmFrames,
            duration: None,
            write_received_dir: None,
            udp_addrs: vec!["127.0.0.1:0".to_owned()],
            connect_timeout,
            dtls_certificate: DtlsCertificate::EcdsaP256,
            video: Default::default(),
            render_size: self.render_size,
        };
        let video = VideoInput {
            camera: self.video.clone(),
            screen: None,
            h264_fps: self.video_fps,
        };
        if video.publishes() {
            // A bad file fails the run before anyone joins.
            let check = video.clone();
            tokio::task::spawn_blocking(move || crate::video::load_tracks(&check))
                .await
                .map_err(|err| JoinerError::Io(std::io::Error::other(err)))??;
        }
        let client = OpenChatClient {
            template,
            rooms,
            run_id,
            publish: Publish::Clip(clip),
            video,
            ice_check_interval: Duration::from_millis(self.ice_check_interval_ms.max(1)),
        };
        Ok(run_load(&plan, Arc::new(client)).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<LoadCli, clap::Error> {
        let mut argv = vec!["rtc-joiner load"];
        argv.extend_from_slice(args);
        LoadCli::try_parse_from(argv)
    }

    #[test]
    fn plan_from_flags() {
        let cli = parse(&[
            "--joiners",
            "500",
            "--publishers",
            "1",
            "--rooms",
            "1",
            "--ramp",
            "50",
            "--duration",
            "15",
            "--server-pid",
            "42",
        ])
        .expect("valid");
        let plan = cli.plan().expect("plan");
        assert_eq!(plan.joiners, 500);
        assert_eq!(plan.window, Duration::from_secs(15));
        assert_eq!(plan.server_pid, Some(42));
        assert_eq!(
            plan.metrics_url.map(|u| u.to_string()),
            Some("http://127.0.0.1:8080/metrics".to_owned())
        );
    }

    #[test]
    fn bad_plans_are_refused() {
        let too_many = parse(&["--joiners", "2", "--publishers", "3"]).expect("parses");
        assert_eq!(
            too_many.plan().expect_err("refused").code(),
            "invalid_config"
        );
        assert!(parse(&["--joiners", "0"]).is_err());
        let no_ramp = parse(&["--ramp", "0"]).expect("parses");
        assert!(no_ramp.plan().is_err());
        let no_metrics = parse(&["--metrics-url", "none"]).expect("parses");
        assert!(no_metrics.plan().expect("plan").metrics_url.is_none());
    }
}
