//! End to end over real UDP on loopback: openchatd, and three rtc-joiner processes (webrtc-rs) in one
//! voice room. Two publish tones, one only listens; every received WAV carries the right tone, nobody
//! hears themselves, and at least 80% of the sent audio arrives.

mod common;

use std::path::Path;
use std::time::Duration;

use common::joiner::{JoinerProcess, assert_tone};
use common::*;

const PUBLISH_SECS: f32 = 8.0;

fn wavs_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

async fn two_talkers_and_a_listener(s: &TestServer) {
    let dirs = tempfile::tempdir().expect("tempdir");
    let dir = |n: &str| dirs.path().join(n);
    let backend = s.base.clone();
    let duration = PUBLISH_SECS.to_string();
    let listen_for = (PUBLISH_SECS + 4.0).to_string();
    let (carol_dir, alice_dir, bob_dir) = (dir("carol"), dir("alice"), dir("bob"));
    let carol = JoinerProcess::spawn(
        "carol",
        &backend,
        &[
            "--channel-id",
            "vc_general",
            "--user",
            "carol",
            "--duration",
            &listen_for,
            "--write-received-dir",
            carol_dir.to_str().expect("utf8"),
        ],
    );
    let alice = JoinerProcess::spawn(
        "alice",
        &backend,
        &[
            "--channel-id",
            "vc_general",
            "--user",
            "alice",
            "--tone-hz",
            "440",
            "--duration",
            &duration,
            "--write-received-dir",
            alice_dir.to_str().expect("utf8"),
        ],
    );
    let bob = JoinerProcess::spawn(
        "bob",
        &backend,
        &[
            "--channel-id",
            "vc_general",
            "--user",
            "bob",
            "--tone-hz",
            "660",
            "--duration",
            &duration,
            "--write-received-dir",
            bob_dir.to_str().expect("utf8"),
        ],
    );
    let results = tokio::task::spawn_blocking(move || {
        [alice, bob, carol].map(|j| {
            let name = j.name.clone();
            (name, j.wait(Duration::from_secs(40)))
        })
    })
    .await
    .expect("joined");
    for (name, (ok, stdout, stderr)) in &results {
        assert!(ok, "{name} failed:\n{stdout}\n{stderr}");
        let summary: serde_json::Value = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("{name} summary is not JSON ({e}):\n{stdout}"));
        assert!(summary.is_object(), "{name}: {summary}");
    }
    assert_eq!(
        wavs_in(&alice_dir),
        ["bob.wav"],
        "alice hears bob only, never herself"
    );
    assert_eq!(
        wavs_in(&bob_dir),
        ["alice.wav"],
        "bob hears alice only, never himself"
    );
    assert_eq!(wavs_in(&carol_dir), ["alice.wav", "bob.wav"]);
    assert_tone(&alice_dir, "bob", 660.0, 0.8 * PUBLISH_SECS);
    assert_tone(&bob_dir, "alice", 440.0, 0.8 * PUBLISH_SECS);
    assert_tone(&carol_dir, "alice", 440.0, 0.8 * PUBLISH_SECS);
    assert_tone(&carol_dir, "bob", 660.0, 0.8 * PUBLISH_SECS);
    let (_, metrics) = s.get("/metrics").await;
    let forwarded: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("openchat_sfu_packets_forwarded_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("forwarded counter");
    assert!(forwarded > 4 * 300, "forwarded {forwarded}");
}
on_both_databases!(voice_room_end_to_end, two_talkers_and_a_listener);
