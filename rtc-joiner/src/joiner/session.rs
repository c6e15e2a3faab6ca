//! A joined session's event loop: signaling frames, peer events, keepalive, shutdown.

use super::Roster;
use crate::JoinerError;
use crate::cli::{JoinerConfig, RenderSize};
use crate::peer::{PeerEvent, PeerSession, SenderReport};
use crate::receiver::{MidOwner, ReceiverReport, RemoteTrackInfo, run_receiver};
use crate::signaling_client::messages::{MediaSource, OfferedTrack, TrackKind};
use crate::signaling_client::session::WsStream;
use crate::signaling_client::{ClientMessage, Joined, ServerMessage, SignalingSession};
use crate::summary::{SdpSeen, SdpSize};
use crate::video::{
    LayerPlan, VideoCodec, VideoOwner, VideoReceiverReport, VideoSenderReport, run_video_receiver,
};
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use webrtc::peer_connection::RTCPeerConnectionState;

/// How long shutdown waits for tasks to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// Keepalive period used when the server announces none.
const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(15);

/// Why the event loop ended without an error.
#[derive(Debug, Clone, Copy)]
pub(super) enum StopReason {
    Duration,
    Interrupted,
    FileEnded,
    /// The server went away (stops or drains: `going_away`, close 1001) after the join.
    ServerGoingAway,
}

impl StopReason {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            StopReason::Duration => "duration",
            StopReason::Interrupted => "interrupted",
            StopReason::FileEnded => "file_ended",
            StopReason::ServerGoingAway => "server_going_away",
        }
    }
}

/// Live state of a running joiner.
pub(super) struct Session {
    pub(super) signaling: SignalingSession<WsStream>,
    pub(super) peer: PeerSession,
    pub(super) peer_events: mpsc::UnboundedReceiver<PeerEvent>,
    pub(super) roster: Roster,
    pub(super) joined: Joined,
    pub(super) stop_tx: watch::Sender<bool>,
    pub(super) sender: Option<JoinHandle<Result<SenderReport, JoinerError>>>,
    pub(super) sent: Option<SenderReport>,
    pub(super) receivers: Vec<JoinHandle<Vec<ReceiverReport>>>,
    /// Who each receiving m-line's media comes from (its receiver splits reports on a change).
    pub(super) mid_owners: HashMap<String, watch::Sender<MidOwner>>,
    /// Where received audio is recorded (`--write-received`).
    pub(super) wav_dir: Option<PathBuf>,
    pub(super) server_errors: Vec<String>,
    /// Every SDP sent or received (for the summary).
    pub(super) sdps: Vec<SdpSeen>,
    /// `track_published` frames received so far.
    pub(super) tracks_published: usize,
    /// The largest SDP sent or received.
    pub(super) largest_sdp: SdpSize,
    pub(super) media_connected: bool,
    pub(super) signaling_open: bool,
    /// Load-mode measurement hooks.
    pub(super) probe: Option<crate::load::JoinProbe>,
    /// The video senders, and the dynacast plan each follows, by local track id.
    pub(super) video_senders: Vec<JoinHandle<Result<VideoSenderReport, JoinerError>>>,
    pub(super) video_plans: HashMap<String, watch::Sender<LayerPlan>>,
    /// Local video track id by the mid it is sent on (from our last offer).
    pub(super) local_video_mids: HashMap<String, String>,
    /// The source of each remote video m-line, from `track_published`.
    pub(super) remote_video_sources: HashMap<String, MediaSource>,
    /// Video receivers and who each receiving video m-line carries.
    pub(super) video_receivers: Vec<JoinHandle<Vec<VideoReceiverReport>>>,
    pub(super) video_owners: HashMap<String, watch::Sender<VideoOwner>>,
    /// Filled by [`Session::shutdown`].
    pub(super) video_sent: Vec<VideoSenderReport>,
    pub(super) video_received: Vec<VideoReceiverReport>,
}

impl Session {
    /// Sends our offer, listing the microphone m-line when publishing.
    pub(super) async fn send_offer(&mut self) -> Result<(), JoinerError> {
        let sdp = self.peer.create_offer().await?;
        let mut tracks = match self.peer.local_publish_mid().await {
            Some(mid) => vec![OfferedTrack {
                mid,
                source: MediaSource::Microphone,
            }],
            None if self.peer.local_audio().is_some() => {
                return Err(JoinerError::Protocol(
                    "the local offer has no microphone m-line".into(),
                ));
            }
            None => Vec::new(),
        };
        for video in self.peer.local_video() {
            let mid = self
                .peer
                .local_mid_of(&video.track_id)
                .await
                .ok_or_else(|| {
                    JoinerError::Protocol(format!(
                        "the local offer has no {} m-line",
                        video.source.as_str()
                    ))
                })?;
            self.local_video_mids
                .insert(mid.clone(), video.track_id.clone());
            tracks.push(OfferedTrack {
                mid,
                source: video.source,
            });
        }
        self.sdp_seen("sent", "offer", &sdp);
        self.signaling
            .send(&ClientMessage::Offer { sdp, tracks })
            .await
    }

    /// Records an SDP sent or received, for the summary.
    fn sdp_seen(&mut self, direction: &'static str, kind: &'static str, sdp: &str) {
        tracing::debug!(direction, kind, sdp, "SDP");
        self.largest_sdp.observe(sdp);
        self.sdps
            .push(SdpSeen::new(direction, kind, sdp, self.tracks_published));
    }

    pub(super) async fn run_loop(
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
                        .send(&ClientMessage::Ping { nonce: Some(ping_nonce.into()) })
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
                    Some(Err(JoinerError::ServerGoingAway { reason })) => {
                        // A clean end: the server restarts or drains; joining again works.
                        tracing::info!(%reason, "the server went away; the session ended");
                        self.signaling_open = false;
                        return Ok(StopReason::ServerGoingAway);
                    }
                    Some(Err(err)) => {
                        self.signaling_open = false;
                        return Err(err);
                    }
                    Some(Ok(message)) => self.on_server_message(config, message).await?,
                },
                Some(event) = self.peer_events.recv() => match event {
                    PeerEvent::Track(track) => self.on_remote_track(track).await,
                    PeerEvent::ConnectionState(RTCPeerConnectionState::Connected) => {
                        if !self.media_connected {
                            tracing::info!("media connected");
                            self.media_connected = true;
                            if let Some(probe) = &self.probe {
                                probe.media_connected();
                            }
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

    async fn on_server_message(
        &mut self,
        config: &JoinerConfig,
        message: ServerMessage,
    ) -> Result<(), JoinerError> {
        match message {
            ServerMessage::Answer { sdp } => {
                self.sdp_seen("received", "answer", &sdp);
                self.peer.apply_answer(sdp).await?;
                tracing::debug!("applied the server's answer");
            }
            ServerMessage::Offer { sdp } => {
                self.sdp_seen("received", "offer", &sdp);
                if self.peer.has_pending_local_offer().await {
                    // Glare: the server wins. Our offer will be refused with
                    // `negotiation_glare`; we offer again when that error arrives.
                    tracing::debug!("glare: rolling back our offer");
                    self.peer.rollback().await?;
                }
                let answer = self.peer.answer_offer(sdp).await?;
                self.sdp_seen("sent", "answer", &answer);
                self.signaling
                    .send(&ClientMessage::Answer { sdp: answer })
                    .await?;
                tracing::debug!("answered a server offer");
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
                self.tracks_published += 1;
                if kind == TrackKind::Video {
                    self.remote_video_sources.insert(mid.clone(), source);
                    self.tell_render_size(config, &track_id).await?;
                }
                self.roster
                    .track_published(mid.clone(), participant_id.clone());
                self.hand_over_mid(&mid, participant_id, track_id);
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
            ServerMessage::ServerMuted {
                participant_id,
                muted,
            } => {
                let user = self.roster.user_id(&participant_id).unwrap_or("?");
                tracing::info!(%participant_id, %user, muted, "server mute changed");
            }
            ServerMessage::GrantsChanged { grants } => {
                tracing::warn!(?grants, "this session's grants changed");
            }
            ServerMessage::PublishLayers { mid, paused, rids } => {
                tracing::info!(%mid, paused, ?rids, "dynacast");
                let plan = self
                    .local_video_mids
                    .get(&mid)
                    .and_then(|track_id| self.video_plans.get(track_id));
                match plan {
                    Some(plan) => {
                        plan.send_replace(LayerPlan { paused, rids });
                    }
                    None => tracing::warn!(%mid, "publish_layers for an m-line we do not send"),
                }
            }
            ServerMessage::Error {
                code,
                message,
                fatal,
            } => {
                if fatal {
                    return Err(JoinerError::Signaling {
                        code: code.into_owned(),
                        message,
                    });
                }
                tracing::warn!(%code, %message, "server error");
                if code == "negotiation_glare" && !self.peer.has_pending_local_offer().await {
                    self.send_offer().await?;
                }
                self.server_errors.push(format!("{code}: {message}"));
            }
            ServerMessage::Pong { nonce } => tracing::trace!(?nonce, "pong"),
            ServerMessage::GoingAway { reason, reconnect } => {
                // The close (1001) follows and ends the run (stop reason `server_going_away`).
                tracing::info!(%reason, reconnect, "the server is going away");
            }
            ServerMessage::Joined(_) => tracing::warn!("unexpected second `joined`"),
            ServerMessage::Unknown => tracing::debug!("ignoring an unknown frame type"),
        }
        Ok(())
    }

    /// The WAV file for a publisher's audio, if recording.
    fn wav_path_for(&mut self, info: &RemoteTrackInfo) -> Option<PathBuf> {
        let stem = self.wav_dir.as_ref().map(|_| self.roster.wav_stem(info))?;
        self.wav_dir
            .as_ref()
            .map(|dir| dir.join(format!("{stem}.wav")))
    }

    /// A receiving m-line changes hands: the server gave the idle section to another track.
    fn hand_over_mid(&mut self, mid: &str, participant_id: String, track_id: String) {
        if let Some(owner) = self.video_owners.get(mid) {
            let unchanged = {
                let current = &owner.borrow().info;
                current.participant_id == participant_id && current.track_id == track_id
            };
            if !unchanged {
                let info = RemoteTrackInfo {
                    user_id: self.roster.user_id(&participant_id).map(str::to_owned),
                    participant_id,
                    mid: Some(mid.to_owned()),
                    track_id,
                };
                let payload_types = owner.borrow().payload_types.clone();
                let next = self.video_owner(info, payload_types);
                if let Some(owner) = self.video_owners.get(mid) {
                    owner.send_replace(next);
                }
            }
            return;
        }
        let Some(owner) = self.mid_owners.get(mid) else {
            return; // a new m-line: its receiver starts with `on_remote_track`
        };
        let unchanged = {
            let current = &owner.borrow().info;
            current.participant_id == participant_id && current.track_id == track_id
        };
        if unchanged {
            return;
        }
        let info = RemoteTrackInfo {
            user_id: self.roster.user_id(&participant_id).map(str::to_owned),
            participant_id,
            mid: Some(mid.to_owned()),
            track_id,
        };
        tracing::info!(
            participant_id = %info.participant_id,
            user_id = ?info.user_id,
            %mid,
            "the m-line now carries another participant's audio"
        );
        let wav_path = self.wav_path_for(&info);
        if let Some(owner) = self.mid_owners.get(mid) {
            owner.send_replace(MidOwner { info, wav_path });
        }
    }

    /// Tells the server how a remote video track is shown (`--render-size`).
    async fn tell_render_size(
        &mut self,
        config: &JoinerConfig,
        track_id: &str,
    ) -> Result<(), JoinerError> {
        let Some(render) = config.render_size else {
            return Ok(());
        };
        let (width, height, paused) = match render {
            RenderSize::Size { width, height } => (Some(width), Some(height), false),
            RenderSize::Paused => (None, None, true),
        };
        self.signaling
            .send(&ClientMessage::TrackSettings {
                track_id: track_id.to_owned(),
                width,
                height,
                paused,
            })
            .await
    }

    /// Who a remote video m-line carries, and the file its frames go to (`payload_types`: the
    /// m-line's, from the remote SDP).
    fn video_owner(
        &mut self,
        info: RemoteTrackInfo,
        payload_types: Vec<(u8, VideoCodec)>,
    ) -> VideoOwner {
        let source = info
            .mid
            .as_ref()
            .and_then(|mid| self.remote_video_sources.get(mid))
            .map(|s| s.as_str().to_owned());
        let path_stem = match &self.wav_dir {
            Some(dir) => {
                let stem = self
                    .roster
                    .video_stem(&info, source.as_deref().unwrap_or("video"));
                Some(dir.join(stem))
            }
            None => None,
        };
        VideoOwner {
            info,
            source,
            path_stem,
            payload_types,
        }
    }

    async fn on_remote_track(
        &mut self,
        track: std::sync::Arc<dyn webrtc::media_stream::track_remote::TrackRemote>,
    ) {
        let stream_id = track.stream_id().await;
        let track_id = track.track_id().await;
        let remote_sdp = self.peer.remote_sdp().await.unwrap_or_default();
        let info = self.roster.identify(&stream_id, &track_id, &remote_sdp);
        if track.kind().await == rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Video {
            tracing::info!(
                participant_id = %info.participant_id,
                user_id = ?info.user_id,
                mid = ?info.mid,
                "receiving remote video"
            );
            let mid = info.mid.clone();
            let payload_types = crate::peer::sdp::media_sections(&remote_sdp)
                .into_iter()
                .find(|s| s.mid.is_some() && s.mid == mid)
                .map(|s| {
                    s.codecs
                        .iter()
                        .filter_map(|(pt, name)| Some((*pt, VideoCodec::from_rtp_name(name)?)))
                        .collect()
                })
                .unwrap_or_default();
            let (owner_tx, owner_rx) = watch::channel(self.video_owner(info, payload_types));
            if let Some(mid) = mid {
                self.video_owners.insert(mid, owner_tx);
            }
            self.video_receivers.push(tokio::spawn(run_video_receiver(
                track,
                owner_rx,
                self.stop_tx.subscribe(),
                self.probe.as_ref().map(|p| p.video_receiver()),
            )));
            return;
        }
        let wav_path = self.wav_path_for(&info);
        tracing::info!(
            participant_id = %info.participant_id,
            user_id = ?info.user_id,
            mid = ?info.mid,
            "receiving remote audio"
        );
        let recv_probe = self
            .probe
            .as_ref()
            .map(|p| p.receiver(&info.participant_id));
        let mid = info.mid.clone();
        let (owner_tx, owner_rx) = watch::channel(MidOwner { info, wav_path });
        if let Some(mid) = mid {
            self.mid_owners.insert(mid, owner_tx);
        }
        self.receivers.push(tokio::spawn(run_receiver(
            track,
            owner_rx,
            self.stop_tx.subscribe(),
            recv_probe,
        )));
    }

    /// Leaves the room and collects the task reports (never fails).
    pub(super) async fn shutdown(&mut self) -> (Option<SenderReport>, Vec<ReceiverReport>) {
        if self.signaling_open
            && let Err(err) = self.signaling.send(&ClientMessage::Leave {}).await
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
        for handle in std::mem::take(&mut self.video_senders) {
            if let Some(report) = finish_task(handle, "video sender").await {
                match report {
                    Ok(report) => self.video_sent.push(report),
                    Err(err) => tracing::warn!(%err, "a video sender failed"),
                }
            }
        }
        self.peer.close().await;
        for handle in std::mem::take(&mut self.video_receivers) {
            if let Some(reports) = finish_task(handle, "video receiver").await {
                self.video_received.extend(reports);
            }
        }

        let mut received = Vec::new();
        for mut handle in self.receivers.drain(..) {
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut handle).await {
                Ok(Ok(reports)) => received.extend(reports),
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

/// Waits up to the shutdown grace for a task, aborting it after that.
async fn finish_task<T>(mut handle: JoinHandle<T>, what: &str) -> Option<T> {
    match tokio::time::timeout(SHUTDOWN_GRACE, &mut handle).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(err)) => {
            tracing::warn!(%err, "a {what} task failed");
            None
        }
        Err(_) => {
            tracing::warn!("a {what} did not stop in time");
            handle.abort();
            None
        }
    }
}
