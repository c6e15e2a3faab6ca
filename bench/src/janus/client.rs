//! The [`LoadClient`] for Janus's videoroom: the publisher of room R publishes Opus (offer to
//! Janus), each listener subscribes to that room's publisher (answers Janus's offer). The
//! WebRTC side is rtc-joiner's own: [`JanusClient`] uses its webrtc-rs peer, sender and
//! receiver, [`LightJanusClient`] its light str0m engine, each with the same probe as against
//! openchatd, so both servers are measured by identical clients.

use super::api::{Handle, Hub};
use rtc_joiner::audio_source::{PcmClip, PcmSource};
use rtc_joiner::cli::DtlsCertificate;
use rtc_joiner::load::light::{HubPool, LightPeer, PeerNotice};
use rtc_joiner::load::{JoinFuture, JoinProbe, LoadClient, Slot};
use rtc_joiner::peer::{PeerEvent, PeerOptions, PeerSession, run_sender};
use rtc_joiner::receiver::{MidOwner, RemoteTrackInfo, run_receiver};
use rtc_joiner::video::{LayerPlan, TrackFiles, VideoOwner, run_video_receiver, run_video_sender};
use rtc_joiner::{JoinerError, Summary};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use webrtc::peer_connection::RTCPeerConnectionState;

/// How long a listener waits for its room's publisher to appear.
const PUBLISHER_WAIT: Duration = Duration::from_secs(30);

/// Joins Janus videorooms 1..=K (room index r -> Janus room r + 1), one publisher per room.
pub struct JanusClient {
    /// The shared Janus session.
    pub hub: std::sync::Arc<Hub>,
    /// What publishers send.
    pub clip: PcmClip,
    /// Video scenarios: the camera publishers send as well, and the layer subscribers take.
    pub video: Option<JanusVideo>,
}

/// The video of a video scenario.
#[derive(Clone)]
pub struct JanusVideo {
    /// The camera track and its files (one per simulcast encoding).
    pub tracks: Vec<TrackFiles>,
    /// The simulcast layer subscribers ask for (`configure` `substream`; 0 is the lowest).
    pub substream: u8,
}

fn err(e: anyhow::Error) -> JoinerError {
    JoinerError::Protocol(format!("janus: {e:#}"))
}

/// The probe key of room `room`'s publisher (publisher and listeners agree on it).
fn publisher_key(room: usize) -> String {
    format!("janus-room-{}", room + 1)
}

impl LoadClient for JanusClient {
    fn join(&self, slot: Slot, probe: JoinProbe, stop: watch::Receiver<bool>) -> JoinFuture {
        let hub = self.hub.clone();
        let clip = self.clip.clone();
        let video = self.video.clone();
        Box::pin(async move {
            let started = Instant::now();
            probe.ticket_requested(started);
            let mut handle = hub.attach_videoroom().await.map_err(err)?;
            let room = slot.room as u64 + 1;
            let peer_options = PeerOptions {
                publish: slot.publishes,
                video: match (&video, slot.publishes) {
                    (Some(v), true) => v.tracks.iter().map(|(publish, _)| *publish).collect(),
                    _ => Vec::new(),
                },
                udp_addrs: vec!["127.0.0.1:0".into()],
                gather_timeout: Duration::from_secs(5),
                // The same pacing as `rtc-joiner load` (browser-like).
                ice_check_interval: Some(Duration::from_millis(50)),
                dtls_certificate: DtlsCertificate::EcdsaP256,
            };
            let (peer, mut peer_events) = PeerSession::new(peer_options).await?;
            let substream = video.as_ref().map(|v| v.substream);
            let result = if slot.publishes {
                publish_to(&mut handle, room, &peer).await
            } else {
                subscribe(&mut handle, room, &peer, substream).await
            };
            if let Err(e) = result {
                peer.close().await;
                handle.detach().await;
                return Err(err(e));
            }
            // Janus does no dynacast: every encoding is sent all along (the plan never changes;
            // its sender lives as long as the join).
            let (_plan, plan_rx) = watch::channel(LayerPlan::default());
            let mut video_senders = Vec::new();
            if let Some(v) = &video {
                for (local, (_, clips)) in peer.local_video().iter().zip(v.tracks.clone()) {
                    video_senders.push(tokio::spawn(run_video_sender(
                        local.clone(),
                        clips,
                        plan_rx.clone(),
                        peer.connection_state(),
                        stop.clone(),
                    )));
                }
            }
            let mut sender = None;
            if let Some(local) = peer.local_audio() {
                sender = Some(tokio::spawn(run_sender(
                    local.clone(),
                    PcmSource::clip(clip, true),
                    peer.connection_state(),
                    stop.clone(),
                    Some(probe.sender(&publisher_key(slot.room))),
                )));
            }
            let mut receivers = Vec::new();
            let mut video_receivers = Vec::new();
            let mut stop_wait = stop.clone();
            let mut connected = false;
            loop {
                tokio::select! {
                    () = async { let _ = stop_wait.wait_for(|s| *s).await; } => break,
                    event = peer_events.recv() => match event {
                        Some(PeerEvent::Track(track)) => {
                            let key = publisher_key(slot.room);
                            let info = RemoteTrackInfo {
                                participant_id: key.clone(),
                                ..RemoteTrackInfo::default()
                            };
                            if track.kind().await == rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Video {
                                let owner = VideoOwner {
                                    info,
                                    source: Some("camera".into()),
                                    path_stem: None,
                                    // Janus's own payload type map is read from the track.
                                    payload_types: Vec::new(),
                                };
                                video_receivers.push(tokio::spawn(run_video_receiver(
                                    track,
                                    tokio::sync::watch::channel(owner).1,
                                    stop.clone(),
                                    Some(probe.video_receiver()),
                                )));
                                continue;
                            }
                            // Janus never hands an m-line to another publisher: a fixed owner.
                            let owner = MidOwner { info, wav_path: None };
                            receivers.push(tokio::spawn(run_receiver(
                                track,
                                tokio::sync::watch::channel(owner).1,
                                stop.clone(),
                                Some(probe.receiver(&key)),
                            )));
                        }
                        Some(PeerEvent::ConnectionState(RTCPeerConnectionState::Connected)) => {
                            if !connected {
                                connected = true;
                                probe.media_connected();
                            }
                        }
                        Some(PeerEvent::ConnectionState(RTCPeerConnectionState::Failed)) => {
                            peer.close().await;
                            handle.detach().await;
                            return Err(JoinerError::Protocol("janus: media connection failed".into()));
                        }
                        Some(_) => {}
                        None => break,
                    }
                }
            }
            let sent = match sender {
                Some(h) => h.await.ok().and_then(Result::ok),
                None => None,
            };
            let mut video_sent = Vec::new();
            for h in video_senders {
                if let Ok(Ok(report)) = h.await {
                    video_sent.push(report);
                }
            }
            peer.close().await;
            let mut received = Vec::new();
            for r in receivers {
                if let Ok(reports) = r.await {
                    received.extend(reports);
                }
            }
            let mut video_received = Vec::new();
            for r in video_receivers {
                if let Ok(reports) = r.await {
                    video_received.extend(reports);
                }
            }
            handle.detach().await;
            Ok(Summary {
                channel_id: format!("janus-room-{room}"),
                duration_secs: started.elapsed().as_secs_f64(),
                stop_reason: "interrupted".into(),
                media_connected: connected,
                sent,
                received,
                video_sent,
                video_received,
                ..Summary::default()
            })
        })
    }
}

fn jsep(kind: &str, sdp: String) -> Value {
    json!({"type": kind, "sdp": sdp, "trickle": false})
}

/// The offer/answer steps the videoroom flow needs from a client peer.
trait Negotiate {
    /// Our offer (complete: candidates included).
    async fn offer(&self) -> Result<String, JoinerError>;
    /// Applies the answer to our offer.
    async fn accept_answer(&self, sdp: String) -> Result<(), JoinerError>;
    /// Applies Janus's offer; returns our answer.
    async fn answer(&self, sdp: String) -> Result<String, JoinerError>;
}

impl Negotiate for PeerSession {
    async fn offer(&self) -> Result<String, JoinerError> {
        self.create_offer().await
    }
    async fn accept_answer(&self, sdp: String) -> Result<(), JoinerError> {
        self.apply_answer(sdp).await
    }
    async fn answer(&self, sdp: String) -> Result<String, JoinerError> {
        self.answer_offer(sdp).await
    }
}

/// A light peer plus the probe key its remote media is attributed to.
struct LightNegotiator<'a> {
    peer: &'a LightPeer,
    publisher: String,
}

impl Negotiate for LightNegotiator<'_> {
    async fn offer(&self) -> Result<String, JoinerError> {
        Ok(self.peer.offer().await?.0)
    }
    async fn accept_answer(&self, sdp: String) -> Result<(), JoinerError> {
        self.peer.accept_answer(sdp).await
    }
    async fn answer(&self, sdp: String) -> Result<String, JoinerError> {
        let owners = rtc_joiner::peer::sdp::media_sections(&sdp)
            .into_iter()
            .filter_map(|s| Some((s.mid?, self.publisher.clone())))
            .collect();
        self.peer.accept_offer(sdp, owners).await
    }
}

/// Joins Janus videorooms like [`JanusClient`], with the media on rtc-joiner's light engine.
pub struct LightJanusClient {
    /// The shared Janus session.
    pub hub: std::sync::Arc<Hub>,
    /// The media hubs (their clip is what publishers send).
    pub hubs: HubPool,
}

impl LoadClient for LightJanusClient {
    fn join(&self, slot: Slot, probe: JoinProbe, stop: watch::Receiver<bool>) -> JoinFuture {
        let hub = self.hub.clone();
        let hubs = self.hubs.clone();
        Box::pin(async move {
            let started = Instant::now();
            probe.ticket_requested(started);
            let mut handle = hub.attach_videoroom().await.map_err(err)?;
            let room = slot.room as u64 + 1;
            let key = publisher_key(slot.room);
            let publish = slot.publishes.then(|| probe.sender(&key));
            let mut peer = hubs.create(publish, Some(probe.clone())).await?;
            let negotiator = LightNegotiator {
                peer: &peer,
                publisher: key,
            };
            let result = if slot.publishes {
                publish_to(&mut handle, room, &negotiator).await
            } else {
                subscribe(&mut handle, room, &negotiator, None).await
            };
            if let Err(e) = result {
                peer.close().await;
                handle.detach().await;
                return Err(err(e));
            }
            let mut stop_wait = stop.clone();
            let mut connected = false;
            let outcome = loop {
                tokio::select! {
                    () = async { let _ = stop_wait.wait_for(|s| *s).await; } => break Ok(()),
                    notice = peer.notice() => match notice {
                        Some(PeerNotice::Connected) => {
                            if !connected {
                                connected = true;
                                probe.media_connected();
                            }
                        }
                        Some(PeerNotice::Failed(reason)) => {
                            break Err(JoinerError::Protocol(format!("janus: media failed: {reason}")));
                        }
                        None => break Err(JoinerError::Protocol("the media hub stopped".into())),
                    }
                }
            };
            let report = peer.close().await;
            handle.detach().await;
            outcome?;
            Ok(Summary {
                channel_id: format!("janus-room-{room}"),
                duration_secs: started.elapsed().as_secs_f64(),
                stop_reason: "interrupted".into(),
                media_connected: connected,
                sent: report.sent,
                received: report.received,
                ..Summary::default()
            })
        })
    }
}

/// Joins as publisher and publishes our audio offer; applies Janus's answer.
async fn publish_to(handle: &mut Handle, room: u64, peer: &impl Negotiate) -> anyhow::Result<()> {
    handle
        .message(
            json!({"request": "join", "ptype": "publisher", "room": room}),
            None,
        )
        .await?;
    handle.next_event().await?; // joined
    let offer = peer.offer().await?;
    handle
        .message(json!({"request": "publish"}), Some(jsep("offer", offer)))
        .await?;
    loop {
        let event = handle.next_event().await?;
        if let Some(sdp) = event["jsep"]["sdp"].as_str() {
            peer.accept_answer(sdp.to_owned()).await?;
            return Ok(());
        }
    }
}

/// Waits for the room's publisher, subscribes, and answers Janus's offer; with a `substream`,
/// asks for that simulcast layer of the video.
async fn subscribe(
    handle: &mut Handle,
    room: u64,
    peer: &impl Negotiate,
    substream: Option<u8>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + PUBLISHER_WAIT;
    let feed = loop {
        let r = handle
            .message(json!({"request": "listparticipants", "room": room}), None)
            .await?;
        let feed = r["plugindata"]["data"]["participants"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["publisher"] == true))
            .and_then(|p| p["id"].as_u64());
        match feed {
            Some(feed) => break feed,
            None if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            None => anyhow::bail!("room {room} has no publisher"),
        }
    };
    handle
        .message(
            json!({"request": "join", "ptype": "subscriber", "room": room, "streams": [{"feed": feed}]}),
            None,
        )
        .await?;
    let offer = loop {
        let event = handle.next_event().await?;
        if let Some(sdp) = event["jsep"]["sdp"].as_str() {
            break sdp.to_owned();
        }
    };
    let video_mid = rtc_joiner::peer::sdp::media_sections(&offer)
        .into_iter()
        .find(|s| s.kind == "video" && !s.rejected)
        .and_then(|s| s.mid);
    let answer = peer.answer(offer).await?;
    handle
        .message(json!({"request": "start"}), Some(jsep("answer", answer)))
        .await?;
    if let (Some(substream), Some(mid)) = (substream, video_mid) {
        handle
            .message(
                json!({"request": "configure", "streams": [{"mid": mid, "substream": substream}]}),
                None,
            )
            .await?;
    }
    Ok(())
}
