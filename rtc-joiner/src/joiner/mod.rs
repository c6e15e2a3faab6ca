//! The [`Joiner`]: one client session from join ticket to summary.
//!
//! A joiner owns everything it uses (HTTP client, WebSocket, peer connection, sender and
//! receiver tasks), so many can run side by side in one process.

mod roster;
mod session;

pub use roster::Roster;

use crate::JoinerError;
use crate::audio_source::{PcmClip, PcmSource, ToneGenerator, decode_file};
use crate::cli::{Auth, JoinerConfig, MediaInput, VideoInput};
use crate::load::JoinProbe;
use crate::peer::{PeerOptions, PeerSession, run_sender};
use crate::signaling_client::{ApiClient, ClientMessage};
use crate::summary::Summary;
use crate::video::{LayerPlan, run_video_sender};
use session::Session;
use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long to wait for `joined` after sending `join`.
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for ICE gathering before offering anyway.
const GATHER_TIMEOUT: Duration = Duration::from_secs(5);

/// One client joining one room.
pub struct Joiner {
    config: JoinerConfig,
    clip: Option<PcmClip>,
    probe: Option<JoinProbe>,
    ice_check_interval: Option<Duration>,
}

impl Joiner {
    /// A joiner for `config`; a `--file` is decoded when it runs.
    pub fn new(config: JoinerConfig) -> Self {
        Self {
            config,
            clip: None,
            probe: None,
            ice_check_interval: None,
        }
    }

    /// A joiner that streams an already decoded clip (lets many joiners share one decode).
    /// Only used when the configuration publishes a file.
    pub fn with_clip(config: JoinerConfig, clip: PcmClip) -> Self {
        Self {
            config,
            clip: Some(clip),
            probe: None,
            ice_check_interval: None,
        }
    }

    /// Load mode: reports join timing and every sent/received packet to `probe`, and keeps only
    /// statistics of received audio (no Opus decoding, no WAV files).
    pub fn with_probe(mut self, probe: JoinProbe) -> Self {
        self.probe = Some(probe);
        self
    }

    /// Paces ICE connectivity checks at `interval` instead of webrtc-rs's 200 ms default.
    pub fn with_ice_check_interval(mut self, interval: Duration) -> Self {
        self.ice_check_interval = Some(interval);
        self
    }

    /// Joins, streams and listens until the duration elapses, the file ends, `shutdown`
    /// completes, or a fatal error occurs. Always leaves cleanly (sends `leave`, closes the
    /// peer connection, finalizes WAV files) before returning.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<Summary, JoinerError> {
        let started = Instant::now();
        let source = self.prepare_source().await?;
        let video = load_video(&self.config.video).await?;
        if let Some(dir) = &self.config.write_received_dir {
            tokio::fs::create_dir_all(dir).await?;
        }

        let api = ApiClient::new(self.config.backend_url.clone())?;
        let access_token = match &self.config.auth {
            Auth::Token(token) => token.clone(),
            Auth::DevUser { user_id, device_id } => {
                api.dev_token(user_id, device_id.as_deref())
                    .await?
                    .access_token
            }
        };
        if let Some(probe) = &self.probe {
            probe.ticket_requested(Instant::now());
        }
        let ticket = api
            .join_ticket(
                &access_token,
                &self.config.channel_id,
                &self.config.server_id,
            )
            .await?;
        tracing::info!(
            channel = %ticket.channel_id,
            server = %ticket.server_id,
            room_kind = %ticket.room_kind,
            "got a join ticket"
        );

        let url = api.signaling_url(&ticket.signaling_url)?;
        let mut signaling = crate::signaling_client::connect(&url).await?;
        let joined = signaling.join(&ticket.ticket, JOIN_TIMEOUT).await?;
        tracing::info!(
            participant_id = %joined.participant_id,
            participants = joined.participants.len(),
            "joined the room"
        );

        let mut roster = Roster::default();
        for participant in joined.participants.iter().cloned() {
            roster.upsert(participant);
        }
        // Ourselves too, so events about us (e.g. `speaking`) are named.
        roster.upsert(crate::signaling_client::Participant {
            participant_id: joined.participant_id.clone(),
            user_id: joined.self_info.user_id.clone(),
            device_id: joined.self_info.device_id.clone(),
            tracks: Vec::new(),
            speaking: false,
            muted: Vec::new(),
            server_muted: false,
        });

        let peer_setup = PeerSession::new(PeerOptions {
            publish: source.is_some(),
            video: video.iter().map(|(publish, _)| *publish).collect(),
            udp_addrs: self.config.udp_addrs.clone(),
            gather_timeout: GATHER_TIMEOUT,
            ice_check_interval: self.ice_check_interval,
            dtls_certificate: self.config.dtls_certificate,
        })
        .await;
        let (peer, peer_events) = match peer_setup {
            Ok(pair) => pair,
            Err(err) => {
                let _ = signaling.send(&ClientMessage::Leave {}).await;
                signaling.close().await;
                return Err(err);
            }
        };

        let (stop_tx, stop_rx) = watch::channel(false);
        let sender = match (source, peer.local_audio()) {
            (Some(source), Some(local)) => Some(tokio::spawn(run_sender(
                local.clone(),
                source,
                peer.connection_state(),
                stop_rx,
                self.probe
                    .as_ref()
                    .map(|p| p.sender(&joined.participant_id)),
            ))),
            _ => None,
        };

        let mut video_senders = Vec::new();
        let mut video_plans = HashMap::new();
        for (local, (_, clips)) in peer.local_video().iter().zip(video) {
            let (plan_tx, plan_rx) = watch::channel(LayerPlan::default());
            video_plans.insert(local.track_id.clone(), plan_tx);
            video_senders.push(tokio::spawn(run_video_sender(
                local.clone(),
                clips,
                plan_rx,
                peer.connection_state(),
                stop_tx.subscribe(),
            )));
        }

        let mut session = Session {
            signaling,
            peer,
            peer_events,
            roster,
            joined,
            stop_tx,
            sender,
            sent: None,
            receivers: Vec::new(),
            mid_owners: Default::default(),
            wav_dir: self.config.write_received_dir.clone(),
            server_errors: Vec::new(),
            sdps: Vec::new(),
            tracks_published: 0,
            largest_sdp: Default::default(),
            media_connected: false,
            signaling_open: true,
            probe: self.probe.clone(),
            video_senders,
            video_plans,
            local_video_mids: HashMap::new(),
            remote_video_sources: HashMap::new(),
            video_receivers: Vec::new(),
            video_owners: HashMap::new(),
            video_sent: Vec::new(),
            video_received: Vec::new(),
        };

        let outcome = match session.send_offer().await {
            Ok(()) => session.run_loop(&self.config, shutdown).await,
            Err(err) => Err(err),
        };
        let (sent, received) = session.shutdown().await;

        let reason = outcome?;
        Ok(Summary {
            channel_id: session.joined.room.channel_id.clone(),
            server_id: session.joined.room.server_id.clone(),
            participant_id: session.joined.participant_id.clone(),
            user_id: session.joined.self_info.user_id.clone(),
            duration_secs: started.elapsed().as_secs_f64(),
            stop_reason: reason.as_str().to_owned(),
            media_connected: session.media_connected,
            sent,
            received,
            video_sent: std::mem::take(&mut session.video_sent),
            video_received: std::mem::take(&mut session.video_received),
            server_errors: session.server_errors,
            sdps: session.sdps,
            largest_sdp: session.largest_sdp,
        })
    }

    /// Decodes the file or sets up the tone; `None` when only listening.
    async fn prepare_source(&self) -> Result<Option<PcmSource>, JoinerError> {
        match &self.config.media {
            MediaInput::Listen => Ok(None),
            MediaInput::Tone { hz } => Ok(Some(PcmSource::Tone(ToneGenerator::new(
                *hz,
                crate::audio_source::DEFAULT_TONE_AMPLITUDE,
            )))),
            MediaInput::File {
                path,
                file_type,
                looping,
            } => {
                let clip = match &self.clip {
                    Some(clip) => clip.clone(),
                    None => {
                        let (path, file_type) = (path.clone(), *file_type);
                        tokio::task::spawn_blocking(move || decode_file(&path, file_type))
                            .await
                            .map_err(|err| JoinerError::Io(std::io::Error::other(err)))??
                    }
                };
                tracing::info!(
                    path = %path.display(),
                    seconds = clip.duration_secs(),
                    "decoded audio file"
                );
                Ok(Some(PcmSource::clip(clip, *looping)))
            }
        }
    }
}

/// Reads the video files off the async threads.
async fn load_video(input: &VideoInput) -> Result<Vec<crate::video::TrackFiles>, JoinerError> {
    let input = input.clone();
    let tracks = tokio::task::spawn_blocking(move || crate::video::load_tracks(&input))
        .await
        .map_err(|err| JoinerError::Io(std::io::Error::other(err)))??;
    for (publish, clips) in &tracks {
        tracing::info!(
            source = publish.source.as_str(),
            codec = ?publish.codec,
            layers = publish.layers,
            sizes = ?clips.iter().map(|c| (c.width, c.height)).collect::<Vec<_>>(),
            frames = clips[0].frames.len(),
            "read video"
        );
    }
    Ok(tracks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::MediaMode;

    fn assert_send<T: Send>(_: &T) {}

    /// Load-test mode spawns many joiners on a multi-threaded runtime.
    #[test]
    fn run_future_is_send() {
        let config = JoinerConfig {
            backend_url: "http://localhost:8080".parse().expect("url"),
            server_id: "srv_harbor".into(),
            channel_id: "vc_general".into(),
            auth: Auth::Token("t".into()),
            media: MediaInput::Listen,
            media_mode: MediaMode::PcmFrames,
            duration: None,
            write_received_dir: None,
            udp_addrs: vec!["127.0.0.1:0".into()],
            connect_timeout: Duration::from_secs(1),
            dtls_certificate: crate::cli::DtlsCertificate::EcdsaP256,
            video: Default::default(),
            render_size: None,
        };
        let future = Joiner::new(config).run(std::future::pending());
        assert_send(&future);
    }
}
