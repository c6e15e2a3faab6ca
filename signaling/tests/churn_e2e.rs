//! m-line recycling end to end, over real UDP on loopback: a long-lived rtc-joiner (webrtc-rs)
//! listens while publishers come and go in batches; its SDP stays as large as the room was at its
//! fullest, not as large as its history, and it still hears the late joiner.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::joiner::{JoinerProcess, dominant_frequency, read_wav, rms};
use common::*;

/// Publishers that come and go, in batches that are in the room together.
const PUBLISHERS: usize = 24;
const BATCH: usize = 4;

async fn sfu_peers(s: &TestServer) -> u64 {
    let (_, metrics) = s.get("/metrics").await;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("openchat_sfu_peers "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

async fn wait_for_peers(s: &TestServer, n: u64, deadline: Duration) {
    let end = Instant::now() + deadline;
    while sfu_peers(s).await != n {
        assert!(Instant::now() < end, "expected {n} peers in the sfu");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_all(joiners: Vec<JoinerProcess>, deadline: Duration) -> Vec<(String, String)> {
    tokio::task::spawn_blocking(move || {
        joiners
            .into_iter()
            .map(|j| {
                let name = j.name.clone();
                let (ok, stdout, stderr) = j.wait(deadline);
                assert!(ok, "{name} failed:\n{stdout}\n{stderr}");
                (name, stdout)
            })
            .collect()
    })
    .await
    .expect("joined")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_lived_listener_keeps_a_flat_sdp_while_publishers_churn() {
    let s = TestServer::start(Db::Sqlite).await.expect("server");
    let backend = s.base.clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = JoinerProcess::spawn(
        "lena",
        &backend,
        &[
            "--channel-id",
            "vc_general",
            "--user",
            "lena",
            "--duration",
            "300",
            "--write-received-dir",
            dir.path().to_str().expect("utf8"),
        ],
    );
    wait_for_peers(&s, 1, Duration::from_secs(20)).await;

    for batch in 0..PUBLISHERS / BATCH {
        let joiners: Vec<JoinerProcess> = (0..BATCH)
            .map(|i| {
                let n = batch * BATCH + i;
                let user = format!("pub{n}");
                let hz = (300 + 20 * n).to_string();
                JoinerProcess::spawn(
                    &user,
                    &backend,
                    &[
                        "--channel-id",
                        "vc_general",
                        "--user",
                        &user,
                        "--tone-hz",
                        &hz,
                        "--duration",
                        "1",
                    ],
                )
            })
            .collect();
        wait_all(joiners, Duration::from_secs(40)).await;
        wait_for_peers(&s, 1, Duration::from_secs(10)).await;
    }
    let late = JoinerProcess::spawn(
        "zed",
        &backend,
        &[
            "--channel-id",
            "vc_general",
            "--user",
            "zed",
            "--tone-hz",
            "880",
            "--duration",
            "4",
        ],
    );
    wait_all(vec![late], Duration::from_secs(40)).await;

    let pid = listener.pid().to_string();
    let status = Command::new("kill").args(["-INT", &pid]).status();
    assert!(status.is_ok_and(|s| s.success()), "SIGINT to the listener");
    let (_, summary) = wait_all(vec![listener], Duration::from_secs(20))
        .await
        .pop()
        .expect("listener");
    let summary: serde_json::Value = serde_json::from_str(summary.trim())
        .unwrap_or_else(|e| panic!("summary is not JSON ({e}):\n{summary}"));
    let sections = summary["largest_sdp"]["m_sections"]
        .as_u64()
        .expect("sections");
    let bytes = summary["largest_sdp"]["bytes"].as_u64().expect("bytes");
    println!(
        "listener's largest SDP after {PUBLISHERS} publishers in batches of {BATCH}: \
         {sections} m= sections, {bytes} bytes"
    );
    // Its own line and one per publisher present (a batch, at worst a batch arriving while the
    // last one's lines are being stopped); without recycling it would be 2 + PUBLISHERS.
    assert!(
        (2..=1 + 2 * BATCH as u64).contains(&sections),
        "{sections} sections: {summary:#}"
    );

    let (samples, rate) = read_wav(&dir.path().join("zed.wav"));
    assert!(
        samples.len() as f32 / rate as f32 >= 2.0,
        "the late joiner is heard for at least 2 s"
    );
    assert!(rms(&samples) > 0.02, "zed.wav is silent");
    let f = dominant_frequency(&samples, rate);
    assert!((f - 880.0).abs() <= 5.0, "dominant {f:.1} Hz, want 880");
}
