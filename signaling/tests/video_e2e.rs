//! Video end to end over real UDP on loopback: openchatd and three rtc-joiner processes
//! (webrtc-rs) in the video room `vc_video`. One publishes a camera from three VP8 files
//! (simulcast `q` 320x180, `h` 640x360, `f` 1280x720) and a screenshare from an H.264 file
//! (640x360); two receive, one showing video at 320x180, one at 1280x720. Every file they write
//! decodes (ffprobe) with at least half of the frames sent; the small tile gets the low layer all
//! along; the large one ends on a higher layer than that (which one depends on how far its
//! bandwidth estimate, starting at 1 Mbit/s, has climbed in 12 s on a loaded machine: the top
//! layer on a quiet one).
//!
//! The clips are encoded by the test with Debian's ffmpeg (rtc-joiner sends files as they are).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::joiner::JoinerProcess;
use common::video::{FPS, encode, encode_vp8, have_ffmpeg, probe};
use common::*;

const PUBLISH_SECS: u32 = 12;
/// Received files must hold at least this share of the frames sent while both were in the
/// room (receivers start on the next keyframe, one a second, and the first seconds go to
/// connecting and to the bandwidth estimate's ramp).
const MIN_FRAME_SHARE: f64 = 0.5;

fn files_in(dir: &Path) -> Vec<String> {
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

struct Clips {
    _dir: tempfile::TempDir,
    camera: [PathBuf; 3],
    screen: PathBuf,
}

fn make_clips() -> Clips {
    let dir = tempfile::tempdir().expect("tempdir");
    let camera = [
        ("q.ivf", "320x180", 150),
        ("h.ivf", "640x360", 400),
        ("f.ivf", "1280x720", 1000),
    ]
    .map(|(name, size, kbps)| {
        let path = dir.path().join(name);
        encode_vp8(&path, size, 3, kbps);
        path
    });
    let screen = dir.path().join("screen.h264");
    encode(
        &screen,
        "640x360",
        3,
        &[
            "-c:v",
            "libx264",
            "-profile:v",
            "baseline",
            "-tune",
            "zerolatency",
            "-bf",
            "0",
            "-b:v",
            "500k",
            "-x264-params",
            "repeat-headers=1",
            "-f",
            "h264",
        ],
    );
    Clips {
        _dir: dir,
        camera,
        screen,
    }
}

async fn camera_and_screen_reach_two_receivers(s: &TestServer) {
    if !have_ffmpeg() {
        return;
    }
    let clips = tokio::task::spawn_blocking(make_clips)
        .await
        .expect("clips");
    let dirs = tempfile::tempdir().expect("tempdir");
    let (small_dir, large_dir) = (dirs.path().join("erin"), dirs.path().join("frank"));
    let backend = s.base.clone();
    let listen_for = (PUBLISH_SECS + 6).to_string();
    let receiver = |name: &str, dir: &Path, size: &str| {
        JoinerProcess::spawn(
            name,
            &backend,
            &[
                "--channel-id",
                "vc_video",
                "--user",
                name,
                "--duration",
                &listen_for,
                "--render-size",
                size,
                "--write-received-dir",
                dir.to_str().expect("utf8"),
            ],
        )
    };
    let erin = receiver("erin", &small_dir, "320x180");
    let frank = receiver("frank", &large_dir, "1280x720");
    let camera: Vec<&str> = clips
        .camera
        .iter()
        .flat_map(|p| ["--video", p.to_str().expect("utf8")])
        .collect();
    let mut args = vec!["--channel-id", "vc_video", "--user", "dan", "--duration"];
    let publish_for = PUBLISH_SECS.to_string();
    args.push(&publish_for);
    args.extend(camera);
    args.extend(["--screen", clips.screen.to_str().expect("utf8")]);
    let dan = JoinerProcess::spawn("dan", &backend, &args);

    let results = tokio::task::spawn_blocking(move || {
        [dan, erin, frank].map(|j| {
            let name = j.name.clone();
            (name, j.wait(Duration::from_secs(60)))
        })
    })
    .await
    .expect("joined");
    // Every assertion below shows the joiners' logs when it fails.
    let logs: String = results
        .iter()
        .map(|(name, (_, _, stderr))| format!("--- {name} stderr:\n{stderr}\n"))
        .collect();
    let mut summaries = std::collections::HashMap::new();
    for (name, (ok, stdout, stderr)) in &results {
        assert!(ok, "{name} failed:\n{stdout}\n{stderr}");
        let summary: serde_json::Value = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("{name} summary is not JSON ({e}):\n{stdout}"));
        summaries.insert(name.clone(), summary);
    }

    let sent = &summaries["dan"]["video_sent"];
    let layers = sent[0]["layers"].as_array().expect("camera layers");
    assert_eq!(layers.len(), 3, "three camera encodings: {sent}");
    assert_eq!(sent[1]["source"], "screenshare", "{sent}\n{logs}");
    let sent_frames = sent[1]["layers"][0]["frames_sent"].as_u64().unwrap_or(0);
    assert!(
        sent_frames >= u64::from(PUBLISH_SECS * FPS) * 8 / 10,
        "the screen was sent in real time: {sent}\n{logs}"
    );
    let min_frames = (sent_frames as f64 * MIN_FRAME_SHARE) as u64;

    for (dir, width, height) in [(&small_dir, 320, 180), (&large_dir, 1280, 720)] {
        assert_eq!(
            files_in(dir),
            ["dan-camera.ivf", "dan-screenshare.h264"],
            "one file per source\n{logs}"
        );
        let (w, h, frames) = probe(&dir.join("dan-camera.ivf"));
        if width == 320 {
            // The low layer from the start (the large tile may start lower while the
            // bandwidth estimate ramps up: its summary's last resolution is checked below).
            assert_eq!((w, h), (width, height), "the camera layer asked for");
        }
        assert!(
            frames >= min_frames,
            "{frames} camera frames of {sent_frames}"
        );
        let (w, h, frames) = probe(&dir.join("dan-screenshare.h264"));
        assert_eq!((w, h), (640, 360), "the screenshare");
        assert!(
            frames >= min_frames,
            "{frames} screen frames of {sent_frames}"
        );
    }
    for name in ["erin", "frank"] {
        let received = summaries[name]["video_received"]
            .as_array()
            .expect("video_received");
        assert_eq!(received.len(), 2, "{name}: {received:?}\n{logs}");
        for track in received {
            assert_eq!(track["user_id"], "dan");
            assert!(track["keyframes"].as_u64().unwrap_or(0) >= 1, "{track}");
            assert_eq!(track["packets_lost"], 0, "loopback: {track}");
        }
    }
    let last_width = |name: &str| {
        let camera = summaries[name]["video_received"]
            .as_array()
            .and_then(|a| a.iter().find(|t| t["source"] == "camera"))
            .unwrap_or_else(|| panic!("{name}'s camera"));
        let last = camera["resolutions"]
            .as_array()
            .and_then(|r| r.last())
            .unwrap_or_else(|| panic!("{name}: a resolution in {camera}"));
        eprintln!("{name}'s camera resolutions: {}", camera["resolutions"]);
        last["width"].as_u64().unwrap_or(0)
    };
    assert_eq!(last_width("erin"), 320, "the small tile's layer\n{logs}");
    assert!(
        last_width("frank") > 320,
        "the large tile ends above the low layer\n{logs}"
    );
}
on_both_databases!(video_room_end_to_end, camera_and_screen_reach_two_receivers);
