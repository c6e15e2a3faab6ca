//! The camera clips of the video scenarios: three VP8 encodings of one test pattern (simulcast
//! `q` 320x180 at 150 kbit/s, `h` 640x360 at 500 kbit/s, `f` 1280x720 at 1200 kbit/s, 30 fps, a
//! keyframe every 2 s, 10 s looped), made once with ffmpeg (Debian's; `scripts/install-deps.sh`
//! installs it) into `target/bench-clips/`. The load clients send them as they are.

use anyhow::{Context, ensure};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The encodings, lowest first: file name, size, bitrate.
const LAYERS: [(&str, &str, &str); 3] = [
    ("q.ivf", "320x180", "150k"),
    ("h.ivf", "640x360", "500k"),
    ("f.ivf", "1280x720", "1200k"),
];

/// The render size subscribers report: the middle layer's.
pub const RENDER_SIZE: &str = "640x360";

/// The clips' paths, lowest first, encoding the missing ones into `dir`.
pub fn ensure_clips(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    LAYERS
        .iter()
        .map(|(name, size, kbps)| {
            let path = dir.join(name);
            if !path.exists() {
                let partial = dir.join(format!("{name}.part"));
                let status = Command::new("ffmpeg")
                    .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
                    .arg(format!("testsrc2=size={size}:rate=30"))
                    .args([
                        "-t", "10", "-pix_fmt", "yuv420p", "-g", "60", "-c:v", "libvpx",
                    ])
                    .args(["-deadline", "realtime", "-cpu-used", "8", "-b:v", kbps])
                    .args(["-f", "ivf"])
                    .arg(&partial)
                    .status()
                    .context("running ffmpeg (scripts/install-deps.sh installs it)")?;
                ensure!(status.success(), "ffmpeg could not encode {name}");
                std::fs::rename(&partial, &path)?;
            }
            Ok(path)
        })
        .collect()
}

/// `--video FILE` for each clip.
pub fn video_flags(clips: &[PathBuf]) -> Vec<String> {
    clips
        .iter()
        .flat_map(|p| ["--video".to_owned(), p.display().to_string()])
        .collect()
}
