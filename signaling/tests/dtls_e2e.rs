//! DTLS through the public protocol, over real UDP on loopback. A client with an RSA-2048
//! certificate (as GStreamer's webrtcbin makes) and one with ECDSA P-256 hear each other's tone;
//! a client whose certificate does not match the `a=fingerprint` of its offer gets fatal
//! `dtls_failed`, is counted on `/metrics`, and the others never see it publish.

mod common;

use std::net::UdpSocket;
use std::path::Path;
use std::time::{Duration, Instant};

use common::joiner::{JoinerProcess, assert_tone};
use common::*;
use serde_json::{Value, json};
use str0m::change::SdpAnswer;
use str0m::media::{Direction, MediaKind};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Input, Output, Rtc};

const PUBLISH_SECS: f32 = 6.0;

/// The value of a `/metrics` sample line, e.g. `name{label="x"}`.
fn metric(text: &str, sample: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_and_ecdsa_clients_hear_each_other() {
    // The database plays no part: SQLite only.
    let s = TestServer::start(Db::Sqlite).await.expect("server");
    let dirs = tempfile::tempdir().expect("tempdir");
    let (rsa_dir, ecdsa_dir) = (dirs.path().join("rsa"), dirs.path().join("ecdsa"));
    let duration = PUBLISH_SECS.to_string();
    let spawn = |user: &str, hz: &str, dir: &Path, certificate: &str| {
        JoinerProcess::spawn(
            user,
            &s.base,
            &[
                "--channel-id",
                "vc_general",
                "--user",
                user,
                "--tone-hz",
                hz,
                "--duration",
                &duration,
                "--dtls-certificate",
                certificate,
                "--write-received-dir",
                dir.to_str().expect("utf8"),
            ],
        )
    };
    let gst_like = spawn("gst", "440", &rsa_dir, "rsa-2048");
    let browser_like = spawn("web", "660", &ecdsa_dir, "ecdsa-p256");
    let results = tokio::task::spawn_blocking(move || {
        [gst_like, browser_like].map(|j| (j.name.clone(), j.wait(Duration::from_secs(40))))
    })
    .await
    .expect("joined");
    for (name, (ok, stdout, stderr)) in &results {
        assert!(ok, "{name} failed:\n{stdout}\n{stderr}");
    }
    assert_tone(&rsa_dir, "web", 660.0, 0.8 * PUBLISH_SECS);
    assert_tone(&ecdsa_dir, "gst", 440.0, 0.8 * PUBLISH_SECS);
    let (_, metrics) = s.get("/metrics").await;
    for reason in sfu::DtlsFailureReason::ALL {
        let sample = format!(
            "openchat_sfu_dtls_failures_total{{reason=\"{}\"}}",
            reason.as_str()
        );
        assert_eq!(metric(&metrics, &sample), Some(0), "{sample}");
    }
    s.stop().await;
}

/// A str0m client on its own UDP socket, pumped by the test.
struct UdpClient {
    rtc: Rtc,
    socket: UdpSocket,
    next_timeout: Instant,
}

impl UdpClient {
    fn new() -> UdpClient {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.set_nonblocking(true).expect("nonblocking");
        let mut rtc = Rtc::builder().build(Instant::now());
        let local = socket.local_addr().expect("addr");
        rtc.add_local_candidate(Candidate::host(local, "udp").expect("candidate"));
        UdpClient {
            rtc,
            socket,
            next_timeout: Instant::now(),
        }
    }

    fn pump(&mut self) {
        let mut buf = [0u8; 2000];
        let local = self.socket.local_addr().expect("addr");
        while let Ok((n, source)) = self.socket.recv_from(&mut buf) {
            if let Ok(r) = Receive::new(Protocol::Udp, source, local, &buf[..n]) {
                let _ = self.rtc.handle_input(Input::Receive(Instant::now(), r));
            }
        }
        let now = Instant::now();
        if now >= self.next_timeout {
            let _ = self.rtc.handle_input(Input::Timeout(now));
        }
        while let Ok(output) = self.rtc.poll_output() {
            match output {
                Output::Timeout(t) => {
                    self.next_timeout = t;
                    break;
                }
                Output::Transmit(t) => {
                    let _ = self.socket.send_to(&t.contents, t.destination);
                }
                Output::Event(_) => {}
            }
        }
    }
}

/// Points every `a=fingerprint` at some other certificate (first hash byte changed).
fn wrong_fingerprint(sdp: &str) -> String {
    sdp.lines()
        .map(|line| match line.strip_prefix("a=fingerprint:sha-256 ") {
            Some(hash) => {
                let other = if hash.starts_with("00") { "11" } else { "00" };
                format!("a=fingerprint:sha-256 {other}{}\r\n", &hash[2..])
            }
            None => format!("{line}\r\n"),
        })
        .collect()
}

/// Pumps `client` and reads `ws` until a frame of `kind` arrives (10 s deadline).
async fn pump_until_frame(client: &mut UdpClient, ws: &mut Ws, kind: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        client.pump();
        if let Ok(frame) = tokio::time::timeout(Duration::from_millis(5), ws.recv()).await {
            let frame = frame.unwrap_or_else(|| panic!("socket closed before {kind}"));
            if frame["type"] == kind {
                return frame;
            }
        }
    }
    panic!("no {kind} frame within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_fingerprint_is_fatal_dtls_failed_on_the_wire() {
    let s = TestServer::start(Db::Sqlite).await.expect("server");
    let mut bob = s.ws().await;
    bob.join(&s.ticket("bob", "vc_general").await).await;
    let listen = client_offer(&[(MediaKind::Audio, Direction::RecvOnly)]);
    bob.send(json!({"type": "offer", "sdp": listen})).await;
    bob.recv_type("answer").await;

    let mut mallory = s.ws().await;
    let joined = mallory.join(&s.ticket("mallory", "vc_general").await).await;
    let mallory_id = joined["participant_id"].as_str().expect("id").to_string();
    let mut client = UdpClient::new();
    let mut api = client.rtc.sdp_api();
    api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    let (offer, pending) = api.apply().expect("offer");
    let sdp = wrong_fingerprint(&offer.to_sdp_string());
    mallory.send(json!({"type": "offer", "sdp": sdp})).await;
    let answer = pump_until_frame(&mut client, &mut mallory, "answer").await;
    let answer = SdpAnswer::from_sdp_string(answer["sdp"].as_str().expect("sdp")).expect("sdp");
    client
        .rtc
        .sdp_api()
        .accept_answer(pending, answer)
        .expect("answer applies");

    let error = pump_until_frame(&mut client, &mut mallory, "error").await;
    assert_eq!(error["code"], "dtls_failed", "{error}");
    assert_eq!(error["fatal"], true, "{error}");
    let message = error["message"].as_str().expect("message");
    assert!(message.contains("a=fingerprint"), "{message}");
    assert!(mallory.closed().await);

    let mut seen = Vec::new();
    let left = loop {
        let frame = bob.recv().await.expect("bob's socket stays open");
        if frame["type"] == "participant_left" && frame["participant_id"] == mallory_id.as_str() {
            break frame;
        }
        seen.push(frame);
    };
    assert_eq!(left["reason"], "failed", "{left}");
    assert!(
        !seen.iter().any(|f| f["type"] == "track_published"),
        "bob was told of a track: {seen:?}"
    );

    let (_, metrics) = s.get("/metrics").await;
    let mismatch = "openchat_sfu_dtls_failures_total{reason=\"fingerprint_mismatch\"}";
    assert_eq!(metric(&metrics, mismatch), Some(1), "{metrics}");
    s.stop().await;
}
