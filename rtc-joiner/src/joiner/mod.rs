//! The [`Joiner`]: one client session from join ticket to summary.
//!
//! A joiner owns everything it uses (HTTP client, WebSocket, peer connection, sender and
//! receiver tasks), so many can run side by side in one process.

mod roster;

pub use roster::Roster;

use crate::JoinerError;
use crate::audio_source::{PcmClip, PcmSource, ToneGenerator, decode_file};
use crate::cli::{Auth, JoinerConfig, MediaInput};
use crate::peer::{PeerEvent, PeerOptions, PeerSession, SenderReport, run_sender};
use crate::receiver::{ReceiverReport, run_receiver};
use crate::signaling_client::messages::{MediaSource, OfferedTrack};
use crate::signaling_client::session::WsStream;
use crate::signaling_client::{ApiClient, ClientMessage, Joined, ServerMessage, SignalingSession};
use crate::summary::Summary;
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use webrtc::peer_connection::RTCPeerConnectionState;

/// How long to wait for `joined` after sending `join`.
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for ICE gathering before offering anyway.
const GATHER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long shutdown waits for tasks to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// Keepalive period used when the server announces none.
const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(15);

/// One client joining one room.
pub struct Joiner {
    config: JoinerConfig,
    clip: Option<PcmClip>,
}

/// Why the event loop ended without an error.
#[derive(Debug, Clone, Copy)]
enum StopReason {
    Duration,
    Interrupted,
    FileEnded,
}

impl StopReason {
    fn as_str(self) -> &'static str {
        match self {
            StopReason::Duration => "duration",
            StopReason::Interrupted => "interrupted",
            StopReason::FileEnded => "file_ended",
        }
    }
}

/// Live state of a running joiner.
struct Session {
    signaling: SignalingSession<WsStream>,
    peer: PeerSession,
    peer_events: mpsc::UnboundedReceiver<PeerEvent>,
    roster: Roster,
    joined: Joined,
    stop_tx: watch::Sender<bool>,
    sender: Option<JoinHandle<Result<SenderReport, JoinerError>>>,
    sent: Option<SenderReport>,
    receivers: Vec<JoinHandle<ReceiverReport>>,
    server_errors: Vec<String>,
    media_connected: bool,
    signaling_open: bool,
}

impl Joiner {
    /// A joiner for `config`; a `--file` is decoded when it runs.
    pub fn new(config: JoinerConfig) -> Self {
        Self { config, clip: None }
    }

    /// A joiner that streams an already decoded clip (lets many joiners share one decode).
    /// Only used when the configuration publishes a file.
    pub fn with_clip(config: JoinerConfig, clip: PcmClip) -> Self {
        Self {
            config,
            clip: Some(clip),
        }
    }

    /// Joins, streams and listens until the duration elapses, the file ends, `shutdown`
    /// completes, or a fatal error occurs. Always leaves cleanly (sends `leave`, closes the
    /// peer connection, finalizes WAV files) before returning.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<Summary, JoinerError> {
        let started = Instant::now();
        let source = self.prepare_source().await?;
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
        });

        let peer_setup = PeerSession::new(PeerOptions {
            publish: source.is_some(),
            udp_addrs: self.config.udp_addrs.clone(),
            gather_timeout: GATHER_TIMEOUT,
        })
        .await;
        let (peer, peer_events) = match peer_setup {
            Ok(pair) => pair,
            Err(err) => {
                let _ = signaling.send(&ClientMessage::Leave).await;
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
            ))),
            _ => None,
        };

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
            server_errors: Vec::new(),
            media_connected: false,
            signaling_open: true,
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
            server_errors: session.server_errors,
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

impl Session {
    /// Sends our offer, listing the microphone m-line when publishing.
    async fn send_offer(&mut self) -> Result<(), JoinerError> {
        let sdp = self.peer.create_offer().await?;
        let tracks = match self.peer.local_publish_mid().await {
            Some(mid) => Some(vec![OfferedTrack {
                mid,
                source: MediaSource::Microphone,
            }]),
            None if self.peer.local_audio().is_some() => {
                return Err(JoinerError::Protocol(
                    "the local offer has no microphone m-line".into(),
                ));
            }
            None => None,
        };
        self.signaling
            .send(&ClientMessage::Offer { sdp, tracks })
            .await
    }

    async fn run_loop(
        &mut self,
        config: &JoinerConfig,
        shutdown: impl Future<Output = ()>,
    ) -> Result<StopReason, JoinerError> {
        tokio::pin!(shutdown);
        let keepalive_period = match self.joined.keepalive_interval_ms {
            0 => DEFAULT_KEEPALIVE,
            ms => Duration::from_millis(ms),
        };
        let mut keepalive = tokio::time::interval_at(
            tokio::time::Instant::now() + keepalive_period,
            keepalive_period,
        );
        let mut ping_nonce: u64 = 0;
        let connect_deadline = tokio::time::sleep(config.connect_timeout);
        tokio::pin!(connect_deadline);
        // Armed once media connects: --duration counts media time.
        let mut stop_at: Option<tokio::time::Instant> = None;

        loop {
            let duration_elapsed = async {
                match stop_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = &mut shutdown => return Ok(StopReason::Interrupted),
                () = duration_elapsed => return Ok(StopReason::Duration),
                () = &mut connect_deadline, if !self.media_connected => {
                    return Err(JoinerError::Timeout(format!(
                        "media did not connect within {:.0}s",
                        config.connect_timeout.as_secs_f64()
                    )));
                }
                _ = keepalive.tick() => {
                    ping_nonce += 1;
                    self.signaling
                        .send(&ClientMessage::Ping { nonce: Some(ping_nonce.to_string()) })
                        .await?;
                }
                frame = self.signaling.recv() => match frame {
                    None => {
                        self.signaling_open = false;
                        return Err(JoinerError::Protocol(
                            "the server closed the signaling socket".into(),
                        ));
                    }
                    Some(Err(JoinerError::Protocol(reason))) => {
                        tracing::warn!(%reason, "ignoring a bad signaling frame");
                    }
                    Some(Err(err)) => {
                        self.signaling_open = false;
                        return Err(err);
                    }
                    Some(Ok(message)) => self.on_server_message(message).await?,
                },
                Some(event) = self.peer_events.recv() => match event {
                    PeerEvent::Track(track) => self.on_remote_track(track, config).await,
                    PeerEvent::ConnectionState(RTCPeerConnectionState::Connected) => {
                        if !self.media_connected {
                            tracing::info!("media connected");
                            self.media_connected = true;
                            stop_at = config.duration.map(|d| tokio::time::Instant::now() + d);
                        }
                    }
                    PeerEvent::ConnectionState(RTCPeerConnectionState::Failed) => {
                        return Err(JoinerError::Protocol("the media connection failed".into()));
                    }
                    PeerEvent::ConnectionState(state) => {
                        tracing::debug!(%state, "peer connection state");
                    }
                },
                result = async {
                    match self.sender.as_mut() {
                        Some(handle) => handle.await,
                        None => std::future::pending().await,
                    }
                }, if self.sender.is_some() => {
                    self.sender = None;
                    let report = result
                        .map_err(|err| JoinerError::Io(std::io::Error::other(err)))??;
                    let ended = report.source_ended;
                    self.sent = Some(report);
                    if ended {
                        return Ok(StopReason::FileEnded);
                    }
                    // The sender stopped early (connection closed); keep listening.
                }
            }
        }
    }

    async fn on_server_message(&mut self, message: ServerMessage) -> Result<(), JoinerError> {
        match message {
            ServerMessage::Answer { sdp } => {
                self.peer.apply_answer(sdp).await?;
                tracing::debug!("applied the server's answer");
            }
            ServerMessage::Offer { sdp } => {
                if self.peer.has_pending_local_offer().await {
                    // Glare: the server wins. Our offer will be refused with
                    // `negotiation_glare`; we offer again when that error arrives.
                    tracing::debug!("glare: rolling back our offer");
                    self.peer.rollback().await?;
                }
                let answer = self.peer.answer_offer(sdp).await?;
                self.signaling
                    .send(&ClientMessage::Answer { sdp: answer })
                    .await?;
                tracing::debug!("answered a server offer");
            }
            ServerMessage::Candidate { candidate, sdp_mid } => {
                if let Err(err) = self.peer.add_remote_candidate(candidate, sdp_mid).await {
                    tracing::debug!(%err, "ignoring a server candidate");
                }
            }
            ServerMessage::ParticipantJoined { participant } => {
                tracing::info!(
                    participant_id = %participant.participant_id,
                    user_id = %participant.user_id,
                    "participant joined"
                );
                self.roster.upsert(participant);
            }
            ServerMessage::ParticipantLeft {
                participant_id,
                reason,
            } => {
                let user = self.roster.remove(&participant_id).map(|p| p.user_id);
                tracing::info!(%participant_id, ?user, %reason, "participant left");
            }
            ServerMessage::TrackPublished {
                participant_id,
                track_id,
                source,
                kind,
                mid,
            } => {
                tracing::info!(%participant_id, %track_id, ?source, ?kind, %mid, "track published");
                self.roster.track_published(mid, participant_id);
            }
            ServerMessage::TrackUnpublished {
                participant_id,
                track_id,
            } => {
                tracing::info!(%participant_id, %track_id, "track unpublished");
            }
            ServerMessage::Speaking {
                participant_id,
                speaking,
                level,
            } => {
                let user = self.roster.user_id(&participant_id).unwrap_or("?");
                tracing::info!(%participant_id, %user, speaking, level, "speaking");
            }
            ServerMessage::Muted {
                participant_id,
                source,
                muted,
            } => {
                tracing::info!(%participant_id, ?source, muted, "mute changed");
            }
            ServerMessage::Error {
                code,
                message,
                fatal,
            } => {
                if fatal {
                    return Err(JoinerError::Signaling { code, message });
                }
                tracing::warn!(%code, %message, "server error");
                if code == "negotiation_glare" && !self.peer.has_pending_local_offer().await {
                    self.send_offer().await?;
                }
                self.server_errors.push(format!("{code}: {message}"));
            }
            ServerMessage::Pong { nonce } => tracing::trace!(?nonce, "pong"),
            ServerMessage::Joined(_) => tracing::warn!("unexpected second `joined`"),
            ServerMessage::Unknown => tracing::debug!("ignoring an unknown frame type"),
        }
        Ok(())
    }

    async fn on_remote_track(
        &mut self,
        track: std::sync::Arc<dyn webrtc::media_stream::track_remote::TrackRemote>,
        config: &JoinerConfig,
    ) {
        let stream_id = track.stream_id().await;
        let track_id = track.track_id().await;
        let remote_sdp = self.peer.remote_sdp().await.unwrap_or_default();
        let info = self.roster.identify(&stream_id, &track_id, &remote_sdp);
        let wav_path: Option<PathBuf> = config
            .write_received_dir
            .as_ref()
            .map(|dir| dir.join(format!("{}.wav", self.roster.wav_stem(&info))));
        tracing::info!(
            participant_id = %info.participant_id,
            user_id = ?info.user_id,
            mid = ?info.mid,
            "receiving remote audio"
        );
        self.receivers.push(tokio::spawn(run_receiver(
            track,
            info,
            wav_path,
            self.stop_tx.subscribe(),
        )));
    }

    /// Leaves the room and collects the task reports (never fails).
    async fn shutdown(&mut self) -> (Option<SenderReport>, Vec<ReceiverReport>) {
        if self.signaling_open
            && let Err(err) = self.signaling.send(&ClientMessage::Leave).await
        {
            tracing::debug!(%err, "could not send leave");
        }
        // Stop the sender first so it can read its transport stats before the close.
        self.stop_tx.send_replace(true);

        let sent = match self.sender.take() {
            Some(mut handle) => match tokio::time::timeout(SHUTDOWN_GRACE, &mut handle).await {
                Ok(Ok(Ok(report))) => Some(report),
                Ok(Ok(Err(err))) => {
                    tracing::warn!(%err, "the sender failed");
                    None
                }
                Ok(Err(err)) => {
                    tracing::warn!(%err, "the sender task failed");
                    None
                }
                Err(_) => {
                    handle.abort();
                    None
                }
            },
            None => self.sent.take(),
        };
        self.peer.close().await;

        let mut received = Vec::new();
        for mut handle in self.receivers.drain(..) {
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut handle).await {
                Ok(Ok(report)) => received.push(report),
                Ok(Err(err)) => tracing::warn!(%err, "a receiver task failed"),
                Err(_) => {
                    tracing::warn!("a receiver did not stop in time");
                    handle.abort();
                }
            }
        }

        if self.signaling_open {
            // The server closes the socket after `leave`; give it a moment, then close.
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                while let Some(frame) = self.signaling.recv().await {
                    tracing::trace!(?frame, "frame after leave");
                }
            })
            .await;
            self.signaling.close().await;
            self.signaling_open = false;
        }
        (sent, received)
    }
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
        };
        let future = Joiner::new(config).run(std::future::pending());
        assert_send(&future);
    }
}
