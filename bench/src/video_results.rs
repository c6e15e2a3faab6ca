//! The video scenarios' own figures, one CSV line per (run, target, scenario) in `video.csv`
//! beside the common row: video received in the window, server CPU per received Mbit, freezes,
//! keyframe requests and frames over the run.

use serde_json::Value;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

/// CSV header.
pub const HEADER: &str = "run,target,scenario,window_s,video_packets_received,video_mbit_received,\
server_cpu_secs,server_us_per_rx_video_mbit,frames,keyframes,frames_dropped,freezes,freeze_seconds,\
plis_sent,tracks_received,tracks_at_render_size,server_keyframe_requests_per_min";

fn f(v: &Value, path: &[&str]) -> Option<f64> {
    let mut v = v;
    for key in path {
        v = v.get(key)?;
    }
    v.as_f64()
}

/// The video line of a load summary (`render_size`: what subscribers asked for).
pub fn line(run: u32, target: &str, scenario: &str, summary: &Value, render_size: &str) -> String {
    let window_s = f(summary, &["window", "seconds"]);
    let bytes = f(summary, &["window", "video_bytes_received"]);
    let mbit = bytes.map(|b| b * 8.0 / 1e6);
    let cpu = f(summary, &["window", "server", "cpu_secs"]);
    let per_mbit = match (cpu, mbit) {
        (Some(cpu), Some(mbit)) if mbit > 0.0 => Some(cpu * 1e6 / mbit),
        _ => None,
    };
    let video = |k: &str| f(summary, &["video", k]);
    let at_size = summary["video"]["final_resolutions"][render_size].as_f64();
    let cells = [
        window_s,
        f(summary, &["window", "video_packets_received"]),
        mbit,
        cpu,
        per_mbit,
        video("frames"),
        video("keyframes"),
        video("frames_dropped"),
        video("freezes"),
        video("freeze_seconds"),
        video("keyframe_requests"),
        video("tracks_received"),
        at_size,
        // openchatd's own counter over the window (Janus exposes none).
        f(summary, &["window", "server_keyframe_requests"])
            .zip(window_s)
            .map(|(n, s)| n * 60.0 / s.max(0.001)),
    ];
    let mut out = format!("{run},{target},{scenario}");
    for cell in cells {
        match cell {
            Some(v) => {
                let _ = write!(out, ",{v:.3}");
            }
            None => out.push(','),
        }
    }
    out
}

/// Appends `line` to `path`, writing the header first into a new file.
pub fn append(path: &Path, line: &str) -> anyhow::Result<()> {
    let new = !path.exists();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if new {
        writeln!(file, "{HEADER}")?;
    }
    writeln!(file, "{line}")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_makes_a_line_with_every_column() {
        let summary = serde_json::json!({
            "window": {"seconds": 10.0, "video_packets_received": 1000, "video_bytes_received": 1_000_000,
                       "server": {"cpu_secs": 2.0}},
            "video": {"frames": 300, "keyframes": 10, "frames_dropped": 0, "freezes": 1,
                      "freeze_seconds": 0.5, "keyframe_requests": 2, "tracks_received": 10,
                      "final_resolutions": {"640x360": 9}}
        });
        let line = line(1, "openchatd", "video-fanout-10", &summary, "640x360");
        assert_eq!(line.split(',').count(), HEADER.split(',').count());
        // 2 s of CPU over 8 Mbit.
        assert!(line.contains(",8.000,2.000,250000.000,"), "{line}");
        assert!(
            line.ends_with(",10.000,9.000,"),
            "no server counter: {line}"
        );
    }
}
