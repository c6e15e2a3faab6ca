//! The [`LoadClient`] for `openchatd` on the light engine: the same public protocol as a
//! [`Joiner`](crate::Joiner) (dev token, join ticket, signaling WebSocket, one offer, answers
//! to server offers, pings, `leave`), with the media on a [`HubPool`] peer.

use super::client::{HubPool, LightPeer};
use super::peer::PeerNotice;
use crate::load::engine::{JoinFuture, LoadClient, Slot};
use crate::load::openchat::user_id;
use crate::load::probe::JoinProbe;
use crate::load::setup::Rooms;
use crate::peer::sdp::media_sections;
use crate::signaling_client::messages::{MediaSource, OfferedTrack};
use crate::signaling_client::session::WsStream;
use crate::signaling_client::{ApiClient, ClientMessage, ServerMessage, SignalingSession};
use crate::{JoinerError, Summary};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long to wait for `joined`.
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Keepalive period when the server announces none.
const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(15);

/// Joins `openchatd` rooms as development users `<run_id>-u<index>`, media on the hubs.
pub struct LightOpenChatClient {
    /// The HTTP API (shared by every joiner: one connection pool).
    pub api: ApiClient,
    /// Where slots go.
    pub rooms: Rooms,
    /// Prefix of user ids.
    pub run_id: String,
    /// The media hubs.
    pub hubs: HubPool,
    /// Longest wait from join to media connected.
    pub connect_timeout: Duration,
}

impl LoadClient for LightOpenChatClient {
    fn join(&self, slot: Slot, probe: JoinProbe, stop: watch::Receiver<bool>) -> JoinFuture {
        let run = JoinRun {
            api: self.api.clone(),
            hubs: self.hubs.clone(),
            server_id: self.rooms.server_id.clone(),
            channel_id: self.rooms.channels[slot.room % self.rooms.channels.len().max(1)].clone(),
            user_id: user_id(&self.run_id, slot.index),
            publishes: slot.publishes,
            connect_timeout: self.connect_timeout,
            probe,
        };
        Box::pin(run.run(stop))
    }
}

struct JoinRun {
    api: ApiClient,
    hubs: HubPool,
    server_id: String,
    channel_id: String,
    user_id: String,
    publishes: bool,
    connect_timeout: Duration,
    probe: JoinProbe,
}

impl JoinRun {
    async fn run(self, stop: watch::Receiver<bool>) -> Result<Summary, JoinerError> {
        let started = Instant::now();
        let token = self.api.dev_token(&self.user_id, None).await?.access_token;
        self.probe.ticket_requested(Instant::now());
        let ticket = self
            .api
            .join_ticket(&token, &self.channel_id, &self.server_id)
            .await?;
        let url = self.api.signaling_url(&ticket.signaling_url)?;
        let mut signaling = crate::signaling_client::connect(&url).await?;
        let joined = signaling.join(&ticket.ticket, JOIN_TIMEOUT).await?;
        let publish = self
            .publishes
            .then(|| self.probe.sender(&joined.participant_id));
        let peer = match self.hubs.create(publish, Some(self.probe.clone())).await {
            Ok(peer) => peer,
            Err(err) => {
                let _ = signaling.send(&ClientMessage::Leave {}).await;
                signaling.close().await;
                return Err(err);
            }
        };
        let keepalive = match joined.keepalive_interval_ms {
            0 => DEFAULT_KEEPALIVE,
            ms => Duration::from_millis(ms),
        };
        let mut session = LightSession {
            signaling,
            peer,
            probe: self.probe,
            connected: false,
            offer_pending: false,
            server_errors: Vec::new(),
        };
        let outcome = session.run(stop, keepalive, self.connect_timeout).await;
        let _ = session.signaling.send(&ClientMessage::Leave {}).await;
        session.signaling.close().await;
        let report = session.peer.close().await;
        outcome?;
        Ok(Summary {
            channel_id: joined.room.channel_id,
            server_id: joined.room.server_id,
            participant_id: joined.participant_id,
            user_id: joined.self_info.user_id,
            duration_secs: started.elapsed().as_secs_f64(),
            stop_reason: "interrupted".into(),
            media_connected: session.connected,
            sent: report.sent,
            received: report.received,
            video_sent: Vec::new(),
            video_received: Vec::new(),
            server_errors: session.server_errors,
            sdps: Vec::new(),
            largest_sdp: Default::default(),
        })
    }
}

struct LightSession {
    signaling: SignalingSession<WsStream>,
    peer: LightPeer,
    probe: JoinProbe,
    connected: bool,
    offer_pending: bool,
    server_errors: Vec<String>,
}

impl LightSession {
    async fn send_offer(&mut self) -> Result<(), JoinerError> {
        let (sdp, mid) = self.peer.offer().await?;
        let tracks = mid
            .map(|mid| OfferedTrack {
                mid,
                source: MediaSource::Microphone,
            })
            .into_iter()
            .collect();
        self.offer_pending = true;
        self.signaling
            .send(&ClientMessage::Offer { sdp, tracks })
            .await
    }

    async fn run(
        &mut self,
        mut stop: watch::Receiver<bool>,
        keepalive_period: Duration,
        connect_timeout: Duration,
    ) -> Result<(), JoinerError> {
        self.send_offer().await?;
        let mut keepalive = tokio::time::interval_at(
            tokio::time::Instant::now() + keepalive_period,
            keepalive_period,
        );
        let connect_deadline = tokio::time::sleep(connect_timeout);
        tokio::pin!(connect_deadline);
        let mut nonce = 0u64;
        loop {
            tokio::select! {
                () = async { let _ = stop.wait_for(|s| *s).await; } => return Ok(()),
                () = &mut connect_deadline, if !self.connected => {
                    return Err(JoinerError::Timeout(format!(
                        "media did not connect within {:.0}s",
                        connect_timeout.as_secs_f64()
                    )));
                }
                _ = keepalive.tick() => {
                    nonce += 1;
                    self.signaling
                        .send(&ClientMessage::Ping { nonce: Some(nonce.into()) })
                        .await?;
                }
                notice = self.peer.notice() => match notice {
                    Some(PeerNotice::Connected) => {
                        self.connected = true;
                        self.probe.media_connected();
                    }
                    Some(PeerNotice::Failed(reason)) => {
                        return Err(JoinerError::Protocol(format!("media failed: {reason}")));
                    }
                    None => return Err(JoinerError::Protocol("the media hub stopped".into())),
                },
                frame = self.signaling.recv() => match frame {
                    None => {
                        return Err(JoinerError::Protocol(
                            "the server closed the signaling socket".into(),
                        ));
                    }
                    Some(Err(JoinerError::Protocol(reason))) => {
                        tracing::warn!(%reason, "ignoring a bad signaling frame");
                    }
                    Some(Err(err)) => return Err(err),
                    Some(Ok(message)) => self.on_message(message).await?,
                },
            }
        }
    }

    async fn on_message(&mut self, message: ServerMessage) -> Result<(), JoinerError> {
        match message {
            ServerMessage::Answer { sdp } => {
                self.offer_pending = false;
                self.peer.accept_answer(sdp).await?;
            }
            ServerMessage::Offer { sdp } => {
                // The protocol sets each m-line's msid stream id to its publisher.
                let owners = media_sections(&sdp)
                    .into_iter()
                    .filter_map(|s| Some((s.mid?, s.msid?.0)))
                    .collect();
                // A pending offer of ours is dropped (glare: the server wins).
                self.offer_pending = false;
                let answer = self.peer.accept_offer(sdp, owners).await?;
                self.signaling
                    .send(&ClientMessage::Answer { sdp: answer })
                    .await?;
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
                if code == "negotiation_glare" && !self.offer_pending {
                    self.send_offer().await?;
                }
                self.server_errors.push(format!("{code}: {message}"));
            }
            ServerMessage::TrackPublished {
                participant_id,
                mid,
                ..
            } => self.peer.set_owner(mid, participant_id)?,
            // Candidates are in the SDP (the server is ICE-lite with one host candidate);
            // roster and speaking events are not needed to measure.
            _ => {}
        }
        Ok(())
    }
}
