//! The joiner's WebRTC side, built on webrtc-rs 0.21.
//!
//! One [`PeerSession`] per joiner: a media engine with Opus and the video codecs of
//! [`video_codecs`], one audio transceiver (`sendrecv` with a local track when publishing,
//! `recvonly` when listening), a video track per published video source (with its simulcast
//! encodings), and non-trickle ICE (the offer is sent once gathering is complete; the server
//! is ICE-lite).

mod handler;
pub mod sdp;
mod sender;

pub use handler::PeerEvent;
pub use sender::{SenderReport, run_sender};

use crate::JoinerError;
use crate::cli::DtlsCertificate;
use crate::video::{LocalLayer, LocalVideo, SIMULCAST_RIDS, VideoCodec};
use handler::EventForwarder;
use rtc::crypto::SignatureScheme;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::certificate::{CertificateParams, RTCCertificate};
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_simulcast_extension_headers, register_default_interceptors,
};
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_AV1, MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_RTX, MIME_TYPE_VP8, MIME_TYPE_VP9,
    MediaEngine,
};
use rtc::rtp_transceiver::rtp_sender::RTCPFeedback;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use rtc::rtp_transceiver::{PayloadType, RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, RTCConfigurationBuilder, RTCIceGatheringState,
    RTCPeerConnectionState, RTCSessionDescription, SettingEngineBuilder,
};
use webrtc::rtp_transceiver::RtpSender;

/// Dynamic payload type we offer for Opus (the answer may pick another).
const OPUS_PAYLOAD_TYPE: PayloadType = 111;
/// RFC 6464 client-to-mixer audio level.
const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
/// The `msid` stream id of the published track (the server identifies us by session anyway).
const LOCAL_STREAM_ID: &str = "rtc-joiner";

/// A video track to publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoPublish {
    /// `camera` or `screenshare`.
    pub source: openchat_protocol::MediaSource,
    /// The codec of its files.
    pub codec: VideoCodec,
    /// Simulcast encodings (1: none; up to 3, rids `q`, `h`, `f`).
    pub layers: usize,
}

/// How a [`PeerSession`] is set up.
#[derive(Debug, Clone)]
pub struct PeerOptions {
    /// Publish a microphone track (`sendrecv`), or only listen (`recvonly`).
    pub publish: bool,
    /// Video tracks to publish.
    pub video: Vec<VideoPublish>,
    /// Local UDP addresses to bind (`ip:port`; a wildcard binds every non-loopback interface).
    pub udp_addrs: Vec<String>,
    /// How long to wait for ICE gathering before sending the offer anyway.
    pub gather_timeout: Duration,
    /// Pacing of ICE connectivity checks (`None`: webrtc-rs's default, 200 ms; browsers pace
    /// at about 50 ms). Against an ICE-lite server the connection is up after about two checks.
    pub ice_check_interval: Option<Duration>,
    /// The key of the DTLS certificate.
    pub dtls_certificate: DtlsCertificate,
}

/// A self-signed RSA-2048 DTLS certificate, as GStreamer's webrtcbin makes (webrtc-rs makes
/// ECDSA P-256 ones by itself).
fn rsa_2048_certificate() -> Result<RTCCertificate, JoinerError> {
    let error = |e: &dyn std::fmt::Display| {
        JoinerError::Config(format!("cannot make an RSA-2048 DTLS certificate: {e}"))
    };
    let key = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .map_err(|e| error(&e))?;
    let provider = rtc::crypto::default_provider().map_err(|e| error(&e))?;
    let signing_key = provider
        .crypto()
        .import_signing_key(SignatureScheme::RsaPkcs1Sha256, &key.serialize_der())
        .map_err(|e| error(&e))?;
    let params = CertificateParams::new(vec!["rtc-joiner".to_owned()]).map_err(|e| error(&e))?;
    RTCCertificate::generate_from_signing_key(params, SignatureScheme::RsaPkcs1Sha256, signing_key)
        .map_err(|e| error(&e))
}

/// The local audio track and its sender, present when publishing.
#[derive(Clone)]
pub struct LocalAudio {
    /// The track samples are written to.
    pub track: Arc<TrackLocalStaticSample>,
    /// The track's SSRC.
    pub ssrc: u32,
    /// Its `msid` track id.
    pub track_id: String,
    sender: Arc<dyn RtpSender>,
}

impl LocalAudio {
    /// What the answer negotiated for the sender: the payload type, and whether the
    /// RFC 6464 audio-level extension may be sent (packets carrying a header extension the
    /// answer did not accept are dropped by webrtc-rs).
    pub async fn negotiated(&self) -> Result<(PayloadType, bool), JoinerError> {
        let parameters = self.sender.get_parameters().await?.rtp_parameters;
        let payload_type = parameters
            .codecs
            .first()
            .map(|codec| codec.payload_type)
            .ok_or_else(|| {
                JoinerError::Protocol("no codec negotiated for the microphone".into())
            })?;
        let audio_level = parameters
            .header_extensions
            .iter()
            .any(|ext| ext.uri == AUDIO_LEVEL_URI);
        Ok((payload_type, audio_level))
    }

    /// Packets and bytes webrtc-rs reports as actually sent for this track's SSRC
    /// (`outbound-rtp` stats), which excludes packets the driver dropped.
    pub async fn transport_sent(&self) -> Option<(u64, u64)> {
        let report = self.sender.get_stats(Instant::now()).await.ok()?;
        report
            .outbound_rtp_streams()
            .find(|s| s.sent_rtp_stream_stats.rtp_stream_stats.ssrc == self.ssrc)
            .map(|s| {
                (
                    s.sent_rtp_stream_stats.packets_sent,
                    s.sent_rtp_stream_stats.bytes_sent,
                )
            })
    }
}

/// One joiner's peer connection.
pub struct PeerSession {
    pc: Arc<dyn PeerConnection>,
    local_audio: Option<LocalAudio>,
    local_video: Vec<LocalVideo>,
    connection: watch::Receiver<RTCPeerConnectionState>,
    gathering: watch::Receiver<RTCIceGatheringState>,
    gather_timeout: Duration,
}

fn opus_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

/// RTCP feedback offered for video: NACK, PLI, FIR, REMB and transport-wide CC.
fn video_feedback() -> Vec<RTCPFeedback> {
    [
        ("nack", ""),
        ("nack", "pli"),
        ("ccm", "fir"),
        ("goog-remb", ""),
        ("transport-cc", ""),
    ]
    .into_iter()
    .map(|(typ, parameter)| RTCPFeedback {
        typ: typ.to_owned(),
        parameter: parameter.to_owned(),
    })
    .collect()
}

/// The video codec the joiner sends `codec` files as, and accepts from the server.
pub fn video_codec(codec: VideoCodec) -> RTCRtpCodec {
    let (mime, fmtp) = match codec {
        VideoCodec::Vp8 => (MIME_TYPE_VP8, ""),
        VideoCodec::Vp9 => (MIME_TYPE_VP9, "profile-id=0"),
        VideoCodec::Av1 => (MIME_TYPE_AV1, ""),
        VideoCodec::H264 => (
            MIME_TYPE_H264,
            "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
        ),
    };
    RTCRtpCodec {
        mime_type: mime.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: fmtp.to_owned(),
        rtcp_feedback: video_feedback(),
    }
}

/// The video codecs offered, with their payload types, in order of preference (each with RTX
/// on the next payload type).
pub fn video_codecs() -> [(VideoCodec, PayloadType); 4] {
    [
        (VideoCodec::Vp8, 96),
        (VideoCodec::H264, 102),
        (VideoCodec::Vp9, 98),
        (VideoCodec::Av1, 45),
    ]
}

impl PeerSession {
    /// Builds the peer connection and its audio transceiver.
    ///
    /// Returns the session and the stream of [`PeerEvent`]s.
    pub async fn new(
        options: PeerOptions,
    ) -> Result<(Self, mpsc::UnboundedReceiver<PeerEvent>), JoinerError> {
        let mut media_engine = MediaEngine::default();
        media_engine.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: opus_codec(),
                payload_type: OPUS_PAYLOAD_TYPE,
            },
            RtpCodecKind::Audio,
        )?;
        media_engine.register_header_extension(
            RTCRtpHeaderExtensionCapability {
                uri: AUDIO_LEVEL_URI.to_owned(),
            },
            RtpCodecKind::Audio,
            None,
        )?;
        for (codec, payload_type) in video_codecs() {
            media_engine.register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: video_codec(codec),
                    payload_type,
                },
                RtpCodecKind::Video,
            )?;
            // RTX, as browsers offer it: retransmissions, and the padding a sender's bandwidth
            // estimator probes with (without it a subscriber's estimate barely climbs back
            // after congestion).
            media_engine.register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: RTCRtpCodec {
                        mime_type: MIME_TYPE_RTX.to_owned(),
                        clock_rate: 90_000,
                        channels: 0,
                        sdp_fmtp_line: format!("apt={payload_type}"),
                        rtcp_feedback: vec![],
                    },
                    payload_type: payload_type + 1,
                },
                RtpCodecKind::Video,
            )?;
        }
        configure_simulcast_extension_headers(&mut media_engine)?;
        let registry =
            register_default_interceptors(rtc::interceptor::Registry::new(), &mut media_engine)?;

        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (connection_tx, connection) = watch::channel(RTCPeerConnectionState::New);
        let (gathering_tx, gathering) = watch::channel(RTCIceGatheringState::New);
        let handler = Arc::new(EventForwarder {
            events: events_tx,
            connection: connection_tx,
            gathering: gathering_tx,
        });

        let mut configuration = RTCConfigurationBuilder::new();
        if options.dtls_certificate == DtlsCertificate::Rsa2048 {
            configuration = configuration.with_certificates(vec![rsa_2048_certificate()?]);
        }
        let pc: Arc<dyn PeerConnection> = Arc::new(
            PeerConnectionBuilder::new()
                .with_configuration(configuration.build())
                .with_media_engine(media_engine)
                .with_setting_engine(
                    SettingEngineBuilder::new()
                        .with_ice_connection_attempts(options.ice_check_interval, None)
                        .build(),
                )
                .with_interceptor_registry(registry)
                .with_handler(handler)
                .with_udp_addrs(options.udp_addrs.clone())
                .build()
                .await?,
        );

        let local_audio = if options.publish {
            let ssrc = rand::random::<u32>();
            let track_id = format!("mic-{:08x}", rand::random::<u32>());
            let track = Arc::new(TrackLocalStaticSample::new(
                Instant::now(),
                MediaStreamTrack::new(
                    LOCAL_STREAM_ID.to_owned(),
                    track_id.clone(),
                    "microphone".to_owned(),
                    RtpCodecKind::Audio,
                    vec![RTCRtpEncodingParameters {
                        rtp_coding_parameters: RTCRtpCodingParameters {
                            ssrc: Some(ssrc),
                            ..Default::default()
                        },
                        codec: opus_codec(),
                        ..Default::default()
                    }],
                ),
            )?);
            let sender = pc
                .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
                .await?;
            Some(LocalAudio {
                track,
                ssrc,
                track_id,
                sender,
            })
        } else {
            pc.add_transceiver_from_kind(
                RtpCodecKind::Audio,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Recvonly,
                    ..Default::default()
                }),
            )
            .await?;
            None
        };

        let mut local_video = Vec::new();
        for publish in &options.video {
            local_video.push(add_video_track(&pc, *publish).await?);
        }

        Ok((
            Self {
                pc,
                local_audio,
                local_video,
                connection,
                gathering,
                gather_timeout: options.gather_timeout,
            },
            events_rx,
        ))
    }

    /// The published track, if any.
    pub fn local_audio(&self) -> Option<&LocalAudio> {
        self.local_audio.as_ref()
    }

    /// The published video tracks.
    pub fn local_video(&self) -> &[LocalVideo] {
        &self.local_video
    }

    /// Watches the connection state.
    pub fn connection_state(&self) -> watch::Receiver<RTCPeerConnectionState> {
        self.connection.clone()
    }

    /// Creates an offer, applies it locally, waits for ICE gathering and returns the SDP
    /// (with candidates).
    pub async fn create_offer(&self) -> Result<String, JoinerError> {
        let offer = self.pc.create_offer(None).await?;
        self.pc.set_local_description(offer).await?;
        self.local_sdp_after_gathering().await
    }

    /// Applies the server's answer to our offer.
    pub async fn apply_answer(&self, sdp: String) -> Result<(), JoinerError> {
        let answer = RTCSessionDescription::answer(sdp)?;
        self.pc.set_remote_description(answer).await?;
        Ok(())
    }

    /// Applies a server offer and returns our answer's SDP.
    pub async fn answer_offer(&self, sdp: String) -> Result<String, JoinerError> {
        let offer = RTCSessionDescription::offer(sdp)?;
        self.pc.set_remote_description(offer).await?;
        let answer = self.pc.create_answer(None).await?;
        self.pc.set_local_description(answer).await?;
        self.local_sdp_after_gathering().await
    }

    /// Whether our own offer is waiting for an answer (signaling state `have-local-offer`).
    pub async fn has_pending_local_offer(&self) -> bool {
        self.pc.pending_local_description().await.is_some()
    }

    /// Rolls back our pending offer (glare: the server's offer wins).
    pub async fn rollback(&self) -> Result<(), JoinerError> {
        let rollback = RTCSessionDescription::rollback(None)?;
        self.pc.set_local_description(rollback).await?;
        Ok(())
    }

    /// The current remote SDP, if any.
    pub async fn remote_sdp(&self) -> Option<String> {
        self.pc.remote_description().await.map(|d| d.sdp)
    }

    /// The mid of our published microphone m-line in the current local description.
    pub async fn local_publish_mid(&self) -> Option<String> {
        let audio = self.local_audio.as_ref()?;
        self.local_mid_of(&audio.track_id).await
    }

    /// The mid of the local m-line sending track `track_id`, in the current local description.
    pub async fn local_mid_of(&self, track_id: &str) -> Option<String> {
        let sdp = self.pc.local_description().await?.sdp;
        sdp::media_sections(&sdp)
            .into_iter()
            .find(|s| s.msid.as_ref().is_some_and(|(_, track)| track == track_id))
            .and_then(|s| s.mid)
    }

    /// Closes the peer connection; remote tracks end and the driver stops.
    pub async fn close(&self) {
        if let Err(err) = self.pc.close().await {
            tracing::debug!(%err, "closing the peer connection");
        }
    }

    async fn local_sdp_after_gathering(&self) -> Result<String, JoinerError> {
        let mut gathering = self.gathering.clone();
        // Reduce to a bool at once: the watch guard must not live across an await.
        let complete = tokio::time::timeout(
            self.gather_timeout,
            gathering.wait_for(|state| *state == RTCIceGatheringState::Complete),
        )
        .await
        .is_ok_and(|result| result.is_ok());
        if !complete {
            tracing::warn!("ICE gathering did not complete in time; sending what we have");
        }
        self.pc
            .local_description()
            .await
            .map(|d| d.sdp)
            .ok_or_else(|| JoinerError::Protocol("no local description after offer".into()))
    }
}

/// Adds a local video track of `publish.layers` encodings (rids `q`, `h`, `f` when more than
/// one), each with its own SSRC.
async fn add_video_track(
    pc: &Arc<dyn PeerConnection>,
    publish: VideoPublish,
) -> Result<LocalVideo, JoinerError> {
    let layers: Vec<LocalLayer> = (0..publish.layers.clamp(1, SIMULCAST_RIDS.len()))
        .map(|i| LocalLayer {
            rid: (publish.layers > 1).then(|| SIMULCAST_RIDS[i].to_owned()),
            ssrc: rand::random::<u32>(),
        })
        .collect();
    let encodings = layers
        .iter()
        .map(|layer| RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                rid: layer.rid.clone().unwrap_or_default(),
                ssrc: Some(layer.ssrc),
                ..Default::default()
            },
            // No codec: webrtc-rs would make it the m-line's only one, and it negotiates video
            // codecs from the session's first video m-line alone (an H.264 screenshare after a
            // VP8 camera could not be sent). Every m-line offers every codec of
            // `video_codecs()`; the sender picks its file's codec from the answer.
            ..Default::default()
        })
        .collect();
    let source = publish.source.as_str();
    let track_id = format!("{source}-{:08x}", rand::random::<u32>());
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        LOCAL_STREAM_ID.to_owned(),
        track_id.clone(),
        source.to_owned(),
        RtpCodecKind::Video,
        encodings,
    )));
    pc.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
        .await?;
    Ok(LocalVideo {
        track,
        track_id,
        source: publish.source,
        layers,
        codec: publish.codec,
        pc: Arc::clone(pc),
    })
}
