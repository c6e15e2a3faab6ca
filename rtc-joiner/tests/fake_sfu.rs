//! End-to-end against a fake backend whose "SFU" is a webrtc-rs peer on 127.0.0.1:
//! join -> offer/answer -> ICE/DTLS -> our tone reaches the server; the server then
//! renegotiates to send "bob"'s tone, which we decode, measure and record as `bob.wav`.

mod common;

use rtc::media::Sample;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MediaEngine};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use rtc_joiner::audio_source::ToneGenerator;
use rtc_joiner::cli::{Auth, DtlsCertificate, JoinerConfig, MediaInput, MediaMode};
use rtc_joiner::opus_codec::{FRAME_DURATION, FRAME_SAMPLES, OpusDecoder, OpusEncoder};
use rtc_joiner::{Joiner, dominant_frequency};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceGatheringState,
    RTCSessionDescription,
};

/// What the fake SFU observed.
#[derive(Debug, Default)]
struct ServerReport {
    offered_tracks: serde_json::Value,
    packets_from_joiner: usize,
    pcm_from_joiner: Vec<f32>,
    got_leave: bool,
    pings: usize,
}

struct ServerHandler {
    gathering: watch::Sender<RTCIceGatheringState>,
    tracks: mpsc::UnboundedSender<Arc<dyn TrackRemote>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for ServerHandler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        self.gathering.send_replace(state);
    }
    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.tracks.send(track);
    }
}

fn opus() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

async fn local_sdp(
    pc: &Arc<dyn PeerConnection>,
    gathering: &mut watch::Receiver<RTCIceGatheringState>,
) -> String {
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        gathering.wait_for(|s| *s == RTCIceGatheringState::Complete),
    )
    .await;
    pc.local_description().await.expect("local sdp").sdp
}

fn mid_of(sdp: &str, track_id: &str) -> String {
    let mut mid = String::new();
    for line in sdp.lines() {
        if let Some(m) = line.strip_prefix("a=mid:") {
            mid = m.trim().to_owned();
        }
        if line.starts_with("a=msid:") && line.contains(track_id) {
            return mid;
        }
    }
    panic!("no m-line for {track_id}");
}

/// The fake SFU's side of one signaling session.
async fn fake_sfu(
    mut ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    report: Arc<Mutex<ServerReport>>,
    done: mpsc::UnboundedSender<()>,
) {
    let join = common::next_json(&mut ws).await.expect("join");
    assert_eq!(join["type"], "join");
    common::send_json(&mut ws, common::joined_frame()).await;

    let offer = common::next_json(&mut ws).await.expect("offer");
    assert_eq!(offer["type"], "offer");
    report.lock().expect("lock").offered_tracks = offer["tracks"].clone();

    let mut media_engine = MediaEngine::default();
    media_engine
        .register_codec(
            RTCRtpCodecParameters {
                rtp_codec: opus(),
                payload_type: 111,
            },
            RtpCodecKind::Audio,
        )
        .expect("codec");
    let (gathering_tx, mut gathering) = watch::channel(RTCIceGatheringState::New);
    let (tracks_tx, mut tracks_rx) = mpsc::unbounded_channel();
    let pc: Arc<dyn PeerConnection> = Arc::new(
        PeerConnectionBuilder::new()
            .with_media_engine(media_engine)
            .with_handler(Arc::new(ServerHandler {
                gathering: gathering_tx,
                tracks: tracks_tx,
            }))
            .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
            .build()
            .await
            .expect("server pc"),
    );

    // Decode whatever the joiner publishes.
    let sink = Arc::clone(&report);
    tokio::spawn(async move {
        let Some(track) = tracks_rx.recv().await else {
            return;
        };
        let mut decoder = OpusDecoder::new().expect("decoder");
        while let Some(event) = track.poll().await {
            if let TrackRemoteEvent::OnRtpPacket(packet) = event {
                let pcm: Vec<f32> = decoder
                    .decode(&packet.payload)
                    .map(|s| s.iter().map(|&v| f32::from(v) / 32_768.0).collect())
                    .unwrap_or_default();
                let mut report = sink.lock().expect("lock");
                report.packets_from_joiner += 1;
                report.pcm_from_joiner.extend(pcm);
            }
        }
    });

    let sdp = offer["sdp"].as_str().expect("sdp").to_owned();
    pc.set_remote_description(RTCSessionDescription::offer(sdp).expect("offer"))
        .await
        .expect("set remote offer");
    let answer = pc.create_answer(None).await.expect("answer");
    pc.set_local_description(answer).await.expect("set local");
    let sdp = local_sdp(&pc, &mut gathering).await;
    common::send_json(&mut ws, json!({"type": "answer", "sdp": sdp})).await;

    // "bob" publishes: add a track and renegotiate.
    let bob_ssrc = 0x0b0b_0b0b;
    let bob = Arc::new(
        TrackLocalStaticSample::new(
            Instant::now(),
            MediaStreamTrack::new(
                "p_bob".to_owned(),
                "t_bob".to_owned(),
                "bob-mic".to_owned(),
                RtpCodecKind::Audio,
                vec![RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        ssrc: Some(bob_ssrc),
                        ..Default::default()
                    },
                    codec: opus(),
                    ..Default::default()
                }],
            ),
        )
        .expect("bob track"),
    );
    pc.add_track(Arc::clone(&bob) as Arc<dyn TrackLocal>)
        .await
        .expect("add bob");
    let reoffer = pc.create_offer(None).await.expect("reoffer");
    pc.set_local_description(reoffer)
        .await
        .expect("set reoffer");
    let sdp = local_sdp(&pc, &mut gathering).await;
    common::send_json(
        &mut ws,
        json!({"type": "track_published", "participant_id": "p_bob", "track_id": "t_bob",
               "source": "microphone", "kind": "audio", "mid": mid_of(&sdp, "t_bob")}),
    )
    .await;
    common::send_json(&mut ws, json!({"type": "offer", "sdp": sdp})).await;

    let (stop_tx, stop_rx) = watch::channel(false);
    while let Some(frame) = common::next_json(&mut ws).await {
        match frame["type"].as_str() {
            Some("answer") => {
                let sdp = frame["sdp"].as_str().expect("sdp").to_owned();
                pc.set_remote_description(RTCSessionDescription::answer(sdp).expect("answer"))
                    .await
                    .expect("set answer");
                tokio::spawn(send_tone(Arc::clone(&bob), bob_ssrc, stop_rx.clone()));
            }
            Some("ping") => {
                report.lock().expect("lock").pings += 1;
                common::send_json(&mut ws, json!({"type": "pong", "nonce": frame["nonce"]})).await;
            }
            Some("leave") => {
                report.lock().expect("lock").got_leave = true;
                break;
            }
            other => panic!("unexpected frame {other:?}: {frame}"),
        }
    }
    stop_tx.send_replace(true);
    let _ = pc.close().await;
    let _ = done.send(());
}

/// Streams an 880 Hz tone as bob, paced at 20 ms.
async fn send_tone(track: Arc<TrackLocalStaticSample>, ssrc: u32, mut stop: watch::Receiver<bool>) {
    let mut tone = ToneGenerator::new(880.0, 0.3);
    let mut encoder = OpusEncoder::new().expect("encoder");
    let mut frame = vec![0.0; FRAME_SAMPLES];
    let mut ticker = tokio::time::interval(FRAME_DURATION);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        tone.fill(&mut frame);
        let packet = encoder.encode(&frame).expect("encode").to_vec();
        let sample = Sample {
            data: packet.into(),
            duration: FRAME_DURATION,
            ..Sample::new(Instant::now())
        };
        // Errors before DTLS completes are expected; keep pacing.
        let _ = track.sample_writer(ssrc, 111).write_sample(&sample).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_receives_and_records_through_a_webrtc_peer() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("TEST_LOG").unwrap_or_default())
        .try_init();
    let report = Arc::new(Mutex::new(ServerReport::default()));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let server_report = Arc::clone(&report);
    let ws =
        common::serve_ws(move |ws| fake_sfu(ws, Arc::clone(&server_report), done_tx.clone())).await;
    let http = common::serve_http(common::backend_routes(ws)).await;

    let dir = tempfile::tempdir().expect("tempdir");
    let config = JoinerConfig {
        backend_url: format!("http://{http}").parse().expect("url"),
        server_id: "srv_harbor".into(),
        channel_id: "vc_general".into(),
        auth: Auth::DevUser {
            user_id: "carol".into(),
            device_id: None,
        },
        media: MediaInput::Tone { hz: 440.0 },
        media_mode: MediaMode::PcmFrames,
        duration: Some(Duration::from_secs(3)),
        write_received_dir: Some(dir.path().to_owned()),
        udp_addrs: vec!["127.0.0.1:0".into()],
        connect_timeout: Duration::from_secs(15),
        dtls_certificate: DtlsCertificate::EcdsaP256,
        video: Default::default(),
        render_size: None,
    };
    let summary = tokio::time::timeout(
        Duration::from_secs(30),
        Joiner::new(config).run(std::future::pending()),
    )
    .await
    .expect("joiner finishes")
    .expect("joiner succeeds");
    tokio::time::timeout(Duration::from_secs(5), done_rx.recv())
        .await
        .expect("fake sfu finishes");
    println!("{summary}");

    assert_eq!(summary.stop_reason, "duration");
    assert!(summary.media_connected);
    assert_eq!(summary.participant_id, "p_self");
    let sent = summary.sent.as_ref().expect("sent report");
    assert!(
        (140..=160).contains(&sent.packets_sent),
        "sent {}",
        sent.packets_sent
    );
    // The driver sends asynchronously: the last frame or two may still be queued when
    // the stats are read.
    let on_wire = sent.transport_packets_sent.expect("transport stats");
    assert!(
        on_wire + 2 >= sent.packets_sent,
        "{on_wire} of {} written packets reached the wire",
        sent.packets_sent
    );
    assert_eq!(summary.received.len(), 1, "{:?}", summary.received);
    let bob = &summary.received[0];
    assert_eq!(bob.info.participant_id, "p_bob");
    assert_eq!(bob.info.user_id.as_deref(), Some("bob"));
    assert!(bob.packets_received > 50, "{bob:?}");
    assert_eq!(bob.packets_lost, 0);
    assert!(bob.jitter_ms < 20.0, "{bob:?}");

    let wav_path = dir.path().join("bob.wav");
    assert_eq!(bob.wav_path.as_deref(), Some(wav_path.as_path()));
    let wav = hound::WavReader::open(&wav_path).expect("bob.wav");
    assert_eq!(wav.spec().sample_rate, 48_000);
    assert_eq!(wav.spec().channels, 1);
    let samples: Vec<f32> = wav
        .into_samples::<i16>()
        .map(|s| f32::from(s.expect("sample")) / 32_768.0)
        .collect();
    assert!(samples.len() > 48_000, "{} samples", samples.len());
    let heard = dominant_frequency(&samples[4_800..], 48_000);
    assert!((heard - 880.0).abs() < 3.0, "bob.wav is {heard} Hz");

    let server = report.lock().expect("lock");
    assert_eq!(
        server.offered_tracks,
        json!([{"mid": "0", "source": "microphone"}])
    );
    assert!(server.got_leave, "no leave frame");
    assert!(server.pings >= 2, "{} pings", server.pings);
    assert!(
        server.packets_from_joiner > 100,
        "{} packets",
        server.packets_from_joiner
    );
    let sent_freq = dominant_frequency(&server.pcm_from_joiner[4_800..], 48_000);
    assert!(
        (sent_freq - 440.0).abs() < 3.0,
        "joiner sent {sent_freq} Hz"
    );
}
