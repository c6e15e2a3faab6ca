//! Against a real `openchatd` (development mode). The binary is another crate's, so this
//! test does not build it; it is ignored by default. Run it with:
//!
//! ```sh
//! cargo build -p signaling --bin openchatd
//! cargo test -p rtc-joiner --test openchatd_e2e -- --ignored
//! ```
//!
//! `OPENCHATD_BIN` overrides the binary path (default: the workspace's `target/debug/openchatd`).

use rtc_joiner::cli::{Auth, JoinerConfig, MediaInput, MediaMode};
use rtc_joiner::{Joiner, JoinerError, dominant_frequency};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Kills the server when the test ends, however it ends.
struct Server {
    child: Child,
    url: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_openchatd() -> Server {
    let bin = std::env::var_os("OPENCHATD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/openchatd")
        });
    assert!(
        bin.exists(),
        "{} not found: cargo build -p signaling --bin openchatd",
        bin.display()
    );
    let data = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(&bin)
        .args([
            "--mode",
            "development",
            "--listen",
            "127.0.0.1:0",
            "--media-port",
            "0",
        ])
        .arg("--data-dir")
        .arg(data.path())
        .args(["--log-level", "warn"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn openchatd");
    let stdout = child.stdout.take().expect("stdout");
    // "openchatd listening on http://127.0.0.1:PORT (media UDP ...)"
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on ").nth(1) {
                let url = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let _ = tx.send(url);
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("openchatd announces its address");
    Server {
        child,
        url,
        _data: data,
    }
}

fn config(server: &Server, user: &str, media: MediaInput, secs: u64) -> JoinerConfig {
    JoinerConfig {
        backend_url: server.url.parse().expect("url"),
        server_id: "srv_harbor".into(),
        channel_id: "vc_general".into(),
        auth: Auth::DevUser {
            user_id: user.into(),
            device_id: None,
        },
        media,
        media_mode: MediaMode::PcmFrames,
        duration: Some(Duration::from_secs(secs)),
        write_received_dir: None,
        udp_addrs: vec!["127.0.0.1:0".into()],
        connect_timeout: Duration::from_secs(15),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a built openchatd (see the file's docs)"]
async fn two_joiners_hear_each_other_through_openchatd() {
    let server = start_openchatd();
    let dir = tempfile::tempdir().expect("tempdir");

    let mut listener_config = config(&server, "bob", MediaInput::Listen, 6);
    listener_config.write_received_dir = Some(dir.path().to_owned());
    let listener = tokio::spawn(Joiner::new(listener_config).run(std::future::pending()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let speaker = Joiner::new(config(&server, "alice", MediaInput::Tone { hz: 440.0 }, 3))
        .run(std::future::pending())
        .await
        .expect("alice runs");
    let listener = listener.await.expect("task").expect("bob runs");
    println!("{speaker}{listener}");

    let sent = speaker.sent.as_ref().expect("alice sent");
    assert!((140..=160).contains(&sent.packets_sent), "{sent:?}");
    let heard = listener
        .received
        .iter()
        .find(|r| r.info.user_id.as_deref() == Some("alice"))
        .expect("bob received alice");
    assert!(heard.packets_received >= 140, "{heard:?}");
    assert!(heard.loss_percent < 1.0, "{heard:?}");
    let wav = hound::WavReader::open(dir.path().join("alice.wav")).expect("alice.wav");
    let samples: Vec<f32> = wav
        .into_samples::<i16>()
        .map(|s| f32::from(s.expect("sample")) / 32_768.0)
        .collect();
    let freq = dominant_frequency(&samples[4_800..], 48_000);
    assert!((freq - 440.0).abs() < 3.0, "alice.wav is {freq} Hz");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a built openchatd (see the file's docs)"]
async fn unknown_channel_reports_the_server_code() {
    let server = start_openchatd();
    let mut cfg = config(&server, "carol", MediaInput::Listen, 1);
    cfg.channel_id = "vc_missing".into();
    let err = Joiner::new(cfg)
        .run(std::future::pending())
        .await
        .expect_err("must fail");
    assert!(matches!(err, JoinerError::Api { .. }), "{err}");
    assert_eq!(err.code(), "channel_not_found");
}
