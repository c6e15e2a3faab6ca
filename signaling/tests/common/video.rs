//! Test video: clips encoded by Debian's ffmpeg (scripts/install-deps.sh installs it; rtc-joiner
//! sends files as they are) and received files checked with ffprobe.

use std::path::Path;
use std::process::Command;

/// Frame rate of every test clip.
pub const FPS: u32 = 30;

/// Whether ffmpeg and ffprobe are there. Without them a test is skipped with a printed reason,
/// except under `CI=true`, where it fails.
pub fn have_ffmpeg() -> bool {
    let found = ["ffmpeg", "ffprobe"].iter().all(|tool| {
        Command::new(tool)
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !found {
        assert!(
            std::env::var("CI").is_err(),
            "ffmpeg/ffprobe missing (scripts/install-deps.sh installs them)"
        );
        eprintln!("skipped: ffmpeg/ffprobe missing (scripts/install-deps.sh installs them)");
    }
    found
}

/// Encodes `secs` seconds of a test pattern at `size` into `out`, a keyframe every second.
pub fn encode(out: &Path, size: &str, secs: u32, codec_args: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={size}:rate={FPS}"))
        .args(["-t", &secs.to_string(), "-pix_fmt", "yuv420p"])
        .args(["-g", &FPS.to_string()])
        .args(codec_args)
        .arg(out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg encoded {}", out.display());
}

/// A VP8 IVF clip at `kbps`.
pub fn encode_vp8(out: &Path, size: &str, secs: u32, kbps: u32) {
    let rate = format!("{kbps}k");
    encode(
        out,
        size,
        secs,
        &[
            "-c:v",
            "libvpx",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-b:v",
            &rate,
            "-f",
            "ivf",
        ],
    );
}

/// Width, height and decoded frame count of the video in `path`; panics on decode errors.
pub fn probe(path: &Path) -> (u32, u32, u64) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=width,height,nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "{} decodes cleanly: {stderr}",
        path.display()
    );
    let fields: Vec<&str> = stdout.trim().split(',').collect();
    let number = |i: usize| -> u64 {
        fields
            .get(i)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("ffprobe of {}: {stdout:?}", path.display()))
    };
    (number(0) as u32, number(1) as u32, number(2))
}
