//! Runs the `rtc-joiner` binary as a child process (it is a pure client of the public protocol).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Path of the rtc-joiner binary: `RTC_JOINER_BIN`, or the workspace's target directory.
pub fn joiner_bin() -> PathBuf {
    if let Ok(p) = std::env::var("RTC_JOINER_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("debug/rtc-joiner");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p rtc-joiner` first (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// A running joiner, killed on drop.
pub struct JoinerProcess {
    child: Option<Child>,
    pub name: String,
}

impl JoinerProcess {
    /// Starts `rtc-joiner` with `args` after the common ones.
    pub fn spawn(name: &str, backend: &str, args: &[&str]) -> JoinerProcess {
        let child = Command::new(joiner_bin())
            .args(["--backend-url", backend, "--json"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rtc-joiner starts");
        JoinerProcess {
            child: Some(child),
            name: name.into(),
        }
    }

    /// Starts `rtc-joiner load --backend-url <backend> --json --quiet` with `args` after.
    pub fn spawn_load(name: &str, backend: &str, args: &[&str]) -> JoinerProcess {
        let child = Command::new(joiner_bin())
            .args(["load", "--backend-url", backend, "--json", "--quiet"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rtc-joiner load starts");
        JoinerProcess {
            child: Some(child),
            name: name.into(),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Waits for exit within `deadline`; returns (success, stdout, stderr).
    pub fn wait(self, deadline: Duration) -> (bool, String, String) {
        let (code, stdout, stderr) = self.wait_code(deadline);
        (code == Some(0), stdout, stderr)
    }

    /// Waits for exit within `deadline` (killed after it); returns (exit code, stdout, stderr).
    pub fn wait_code(mut self, deadline: Duration) -> (Option<i32>, String, String) {
        let end = Instant::now() + deadline;
        let mut child = self.child.take().expect("child");
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if Instant::now() > end {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().expect("output");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for JoinerProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Samples and rate of a 16-bit mono WAV.
pub fn read_wav(path: &Path) -> (Vec<f32>, u32) {
    let mut reader =
        hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rate = reader.spec().sample_rate;
    let samples = reader
        .samples::<i16>()
        .map(|s| f32::from(s.unwrap_or(0)) / 32768.0)
        .collect();
    (samples, rate)
}

/// The strongest frequency (Hz) of `samples`, over a Hann-windowed FFT of up to 4 s of the middle.
pub fn dominant_frequency(samples: &[f32], rate: u32) -> f32 {
    use rustfft::{FftPlanner, num_complex::Complex};
    let len = samples.len().min(rate as usize * 4);
    let start = (samples.len() - len) / 2;
    let window: Vec<Complex<f32>> = samples[start..start + len]
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let w = 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / len as f32).cos();
            Complex::new(s * w, 0.0)
        })
        .collect();
    let mut buf = window;
    FftPlanner::new().plan_fft_forward(len).process(&mut buf);
    let (bin, _) = buf[1..len / 2]
        .iter()
        .enumerate()
        .map(|(i, c)| (i + 1, c.norm()))
        .fold((0, 0.0f32), |best, x| if x.1 > best.1 { x } else { best });
    bin as f32 * rate as f32 / len as f32
}

/// Root mean square of `samples`.
pub fn rms(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt()
}

/// Asserts that `dir/<from>.wav` holds at least `min_secs` of audible audio whose dominant
/// frequency is `hz` within 5 Hz.
pub fn assert_tone(dir: &Path, from: &str, hz: f32, min_secs: f32) {
    let path = dir.join(format!("{from}.wav"));
    let (samples, rate) = read_wav(&path);
    let secs = samples.len() as f32 / rate as f32;
    assert!(
        secs >= min_secs,
        "{}: {secs:.2} s received, want >= {min_secs:.2} s",
        path.display()
    );
    assert!(rms(&samples) > 0.02, "{} is silent", path.display());
    let f = dominant_frequency(&samples, rate);
    assert!(
        (f - hz).abs() <= 5.0,
        "{}: dominant {f:.1} Hz, want {hz} +-5",
        path.display()
    );
}
