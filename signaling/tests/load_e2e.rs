//! `rtc-joiner load` against openchatd over real UDP on loopback, with both client engines:
//! every joiner connects and hears audio, receivers' packets are matched with their sends
//! (end-to-end latency), nothing is lost on loopback, and the JSON summary is complete.

mod common;

use std::time::Duration;

use common::joiner::JoinerProcess;
use common::*;
use serde_json::Value;

/// Runs a load and returns its JSON summary.
async fn load(s: &TestServer, args: &[&str]) -> Value {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let backend = s.base.clone();
    let (ok, stdout, stderr) = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        JoinerProcess::spawn_load("load", &backend, &refs).wait(Duration::from_secs(90))
    })
    .await
    .expect("load finished");
    assert!(ok, "rtc-joiner load failed:\n{stdout}\n{stderr}");
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("the summary is not JSON ({e}):\n{stdout}\n{stderr}"))
}

fn assert_healthy(summary: &Value, joiners: u64, publishers: u64, rooms: u64) {
    let joins = &summary["joins"];
    assert_eq!(joins["attempted"], joiners, "{summary:#}");
    assert_eq!(joins["failed"], 0, "{summary:#}");
    assert_eq!(joins["media_connected"], joiners, "{summary:#}");
    // Everyone hears someone: listeners their room's publishers, publishers each other when
    // a room has two.
    let listeners = joiners - publishers;
    assert!(
        joins["first_audio"].as_u64().expect("first_audio") >= listeners,
        "{summary:#}"
    );
    let packets = &summary["packets"];
    let sent = packets["sent"].as_u64().expect("sent");
    let received = packets["received"].as_u64().expect("received");
    // 3 s window + settle: each publisher sends ~50 packets per second.
    assert!(sent >= publishers * 100, "{summary:#}");
    assert!(received >= listeners * 100 / rooms.max(1), "{summary:#}");
    assert!(
        packets["loss_percent"].as_f64().expect("loss") < 2.0,
        "{summary:#}"
    );
    let e2e = &summary["e2e_latency_ms"];
    assert!(e2e["count"].as_u64().expect("count") > 100, "{summary:#}");
    let p50 = e2e["p50"].as_f64().expect("p50");
    assert!(p50 > 0.0 && p50 < 200.0, "{summary:#}");
    assert!(
        summary["join_latency_ms"]["count"].as_u64() >= Some(listeners),
        "{summary:#}"
    );
    let window = &summary["window"];
    assert!(window["packets_received"].as_u64() > Some(0), "{summary:#}");
    assert!(window["load_cpu_secs"].as_f64() > Some(0.0), "{summary:#}");
}

async fn str0m_engine_fans_out(s: &TestServer) {
    let summary = load(
        s,
        &[
            "--engine",
            "str0m",
            "--joiners",
            "8",
            "--publishers",
            "1",
            "--ramp",
            "20",
            "--duration",
            "3",
            "--settle",
            "1",
        ],
    )
    .await;
    assert_healthy(&summary, 8, 1, 1);
    // The server's forwarded counter was read at both ends of the window.
    let forwarded = summary["window"]["server"].clone();
    assert!(forwarded.is_null(), "no --server-pid given: {forwarded}");
}
on_both_databases!(load_with_the_str0m_engine, str0m_engine_fans_out);

async fn str0m_engine_spreads_rooms(s: &TestServer) {
    let summary = load(
        s,
        &[
            "--engine",
            "str0m",
            "--media-threads",
            "2",
            "--joiners",
            "9",
            "--publishers",
            "3",
            "--rooms",
            "3",
            "--ramp",
            "30",
            "--duration",
            "3",
            "--settle",
            "1",
        ],
    )
    .await;
    assert_healthy(&summary, 9, 3, 3);
    assert_eq!(summary["rooms"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_spreads_joiners_over_rooms() {
    let s = TestServer::start(Db::Sqlite).await.expect("sqlite");
    str0m_engine_spreads_rooms(&s).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_with_the_webrtc_rs_engine() {
    let s = TestServer::start(Db::Sqlite).await.expect("sqlite");
    let summary = load(
        &s,
        &[
            "--engine",
            "webrtc-rs",
            "--joiners",
            "4",
            "--publishers",
            "1",
            "--ramp",
            "20",
            "--duration",
            "3",
            "--settle",
            "1",
        ],
    )
    .await;
    assert_healthy(&summary, 4, 1, 1);
    s.stop().await;
}

/// Video load: a publisher sends a two-layer VP8 camera (clips encoded by ffmpeg), three
/// subscribers show it at 320x180; the summary's video part counts what they received, at the
/// low layer, and the window counts video packets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_with_video() {
    if !common::video::have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let clips: Vec<String> = [("q.ivf", "320x180", 150), ("h.ivf", "640x360", 400)]
        .iter()
        .map(|(name, size, kbps)| {
            let path = dir.path().join(name);
            common::video::encode_vp8(&path, size, 2, *kbps);
            path.to_str().expect("utf8").to_owned()
        })
        .collect();
    let s = TestServer::start(Db::Sqlite).await.expect("sqlite");
    let summary = load(
        &s,
        &[
            "--engine",
            "webrtc-rs",
            "--channel-id",
            "vc_video",
            "--video",
            &clips[0],
            "--video",
            &clips[1],
            "--render-size",
            "320x180",
            "--joiners",
            "4",
            "--publishers",
            "1",
            "--ramp",
            "20",
            "--duration",
            "3",
            "--settle",
            "2",
        ],
    )
    .await;
    assert_healthy(&summary, 4, 1, 1);
    let video = &summary["video"];
    assert_eq!(video["tracks_received"], 3, "{summary:#}");
    assert_eq!(video["sent"]["camera/q"]["tracks"], 1, "{summary:#}");
    assert!(video["frames"].as_u64() > Some(3 * 60), "{summary:#}");
    assert_eq!(video["final_resolutions"]["320x180"], 3, "{summary:#}");
    assert!(
        summary["window"]["video_packets_received"].as_u64() > Some(3 * 60),
        "{summary:#}"
    );
    s.stop().await;
}
