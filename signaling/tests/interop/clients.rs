//! The third-party clients of `tests/interop/` (aiortc and GStreamer webrtcbin, in Python) and
//! `rtc-joiner`, run as child processes that record what they hear and print a JSON summary.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use crate::common::joiner::{dominant_frequency, joiner_bin, read_wav, rms};

/// How often logs and exits are polled.
const POLL: Duration = Duration::from_millis(100);

/// A client implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stack {
    /// `aiortc_client.py` (aiortc from PyPI, in the venv of `scripts/install-deps.sh`).
    Aiortc,
    /// `gst_client.py` (GStreamer webrtcbin through PyGObject, from Debian).
    Gstreamer,
    /// The `rtc-joiner` binary (webrtc-rs).
    Joiner,
}

impl Stack {
    pub fn name(self) -> &'static str {
        match self {
            Stack::Aiortc => "aiortc",
            Stack::Gstreamer => "gstreamer",
            Stack::Joiner => "rtc-joiner",
        }
    }

    /// What must import for this stack to run (Python stacks only).
    fn probe(self) -> Option<&'static str> {
        match self {
            Stack::Aiortc => Some("import aiortc, av, websockets"),
            Stack::Gstreamer => Some(concat!(
                "import gi, websockets\n",
                "gi.require_version('Gst', '1.0'); gi.require_version('GstWebRTC', '1.0')\n",
                "gi.require_version('GstSdp', '1.0'); gi.require_version('Nice', '0.1')\n",
                "from gi.repository import Gst, GstWebRTC, GstSdp, Nice\n",
                "Gst.init(None)\n",
                "missing = [e for e in ('webrtcbin', 'nicesrc', 'opusenc', 'opusdec', ",
                "'rtpopuspay', 'rtpopusdepay', 'audiotestsrc', 'appsink', 'dtlssrtpenc') ",
                "if Gst.ElementFactory.find(e) is None]\n",
                "assert not missing, 'missing GStreamer elements: %s' % missing\n",
            )),
            Stack::Joiner => None,
        }
    }
}

/// The Python interpreter: `$INTEROP_PYTHON`, else the workspace's `.venv` (made by
/// `scripts/install-deps.sh` from /usr/bin/python3 with system site packages, for `gi`).
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("INTEROP_PYTHON") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python")
}

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// `Ok` when `stack` can run here, else why not.
fn check(stack: Stack) -> Result<(), String> {
    static CACHE: OnceLock<[Result<(), String>; 2]> = OnceLock::new();
    let results = CACHE.get_or_init(|| [Stack::Aiortc, Stack::Gstreamer].map(run_probe));
    match stack {
        Stack::Aiortc => results[0].clone(),
        Stack::Gstreamer => results[1].clone(),
        Stack::Joiner => Ok(()),
    }
}

fn run_probe(stack: Stack) -> Result<(), String> {
    let python = python();
    if !python.exists() {
        return Err(format!("{} not found", python.display()));
    }
    let out = Command::new(&python)
        .args(["-c", stack.probe().unwrap_or_default()])
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(err.lines().last().unwrap_or("failed").to_string())
    }
}

/// True when every stack can run. Otherwise prints why and returns false, unless `CI=true`,
/// where a missing tool is a failure (the install script must have installed it).
pub fn available(stacks: &[Stack]) -> bool {
    for &stack in stacks {
        if let Err(why) = check(stack) {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "{} client cannot run ({why}), and CI=true: scripts/install-deps.sh installs it",
                    stack.name()
                );
            }
            eprintln!(
                "skipped: {} client unavailable ({why}); run scripts/install-deps.sh",
                stack.name()
            );
            return false;
        }
    }
    true
}

/// What one client does.
#[derive(Clone, Debug)]
pub struct Role {
    pub stack: Stack,
    pub user: String,
    /// Tone to publish; `None` only listens.
    pub tone_hz: Option<f64>,
    /// Seconds to stay (after joining; for rtc-joiner, after media connects).
    pub duration: f64,
    /// Extra flags.
    pub extra: Vec<String>,
}

impl Role {
    pub fn new(stack: Stack, user: &str, tone_hz: Option<f64>, duration: f64) -> Role {
        Role {
            stack,
            user: user.into(),
            tone_hz,
            duration,
            extra: Vec::new(),
        }
    }
}

/// A running client; killed on drop. Its output goes to files under its work directory.
pub struct Client {
    child: Option<Child>,
    pub role: Role,
    /// Where it records `<user_id>.wav` per remote participant.
    pub received: PathBuf,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Client {
    /// Starts `role` against `backend`, with its files under `work/<user>/`.
    pub fn start(role: Role, backend: &str, channel: &str, work: &Path) -> Client {
        let dir = work.join(&role.user);
        let received = dir.join("received");
        std::fs::create_dir_all(&received).expect("client dir");
        let (stdout, stderr) = (dir.join("stdout.json"), dir.join("stderr.log"));
        let mut args: Vec<String> = vec![
            "--backend-url".into(),
            backend.into(),
            "--channel-id".into(),
            channel.into(),
            "--user".into(),
            role.user.clone(),
            "--duration".into(),
            role.duration.to_string(),
            "--write-received-dir".into(),
            received.display().to_string(),
        ];
        if let Some(hz) = role.tone_hz {
            args.extend(["--tone-hz".into(), hz.to_string()]);
        }
        args.extend(role.extra.iter().cloned());
        let mut command = match role.stack {
            Stack::Joiner => {
                let mut c = Command::new(joiner_bin());
                c.args(["--json", "--log-level", "info"]);
                c
            }
            python_stack => {
                let script = match python_stack {
                    Stack::Aiortc => "aiortc_client.py",
                    _ => "gst_client.py",
                };
                let mut c = Command::new(python());
                c.arg("-u").arg(scripts_dir().join(script));
                c
            }
        };
        let child = command
            .args(&args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", role.stack.name()));
        Client {
            child: Some(child),
            role,
            received,
            stdout,
            stderr,
        }
    }

    pub fn name(&self) -> String {
        format!("{} ({})", self.role.user, self.role.stack.name())
    }

    /// What it printed on stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits until a line of its stderr contains every one of `needles`; panics with the log
    /// after `limit`.
    pub async fn wait_log(&self, needles: &[&str], limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while !self
            .log()
            .lines()
            .any(|l| needles.iter().all(|n| l.contains(n)))
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{}: no line with {needles:?} within {limit:?}; log:\n{}",
                self.name(),
                self.log()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Asks it to leave now (SIGINT): each client then prints its summary.
    pub fn interrupt(&self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
        }
    }

    /// Waits for it to exit (killing it after `limit`) and returns its JSON summary; panics with
    /// its output when it failed or printed no summary.
    pub async fn finish(self, limit: Duration) -> Value {
        self.try_finish(limit)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Client::finish`], with the failure (and the client's output) as an error.
    pub async fn try_finish(mut self, limit: Duration) -> Result<Value, String> {
        let mut child = self.child.take().expect("child");
        let deadline = tokio::time::Instant::now() + limit;
        let status = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break Some(status);
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            tokio::time::sleep(POLL).await;
        };
        let stdout = std::fs::read_to_string(&self.stdout).unwrap_or_default();
        let name = self.name();
        let context = || {
            format!(
                "stdout:\n{stdout}\nstderr (tail):\n{}",
                tail(&self.log(), 60)
            )
        };
        match status {
            Some(s) if s.success() => {}
            Some(s) => return Err(format!("{name} exited with {s}\n{}", context())),
            None => {
                return Err(format!(
                    "{name} still running after {limit:?}\n{}",
                    context()
                ));
            }
        }
        serde_json::from_str(stdout.trim())
            .map_err(|e| format!("{name}: summary is not JSON ({e})\n{}", context()))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The `.wav` files a client recorded, sorted.
pub fn wavs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".wav"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Checks that `listener` recorded at least `min_secs` of `from`'s tone at `hz` (+-5 Hz).
/// Returns a description of the failure instead of panicking, so a test can report every pair.
pub fn heard(listener: &Path, from: &str, hz: f64, min_secs: f32) -> Result<String, String> {
    let path = listener.join(format!("{from}.wav"));
    if !path.exists() {
        return Err(format!("{}: nothing recorded", path.display()));
    }
    let (samples, rate) = read_wav(&path);
    let secs = samples.len() as f32 / rate as f32;
    if secs < min_secs {
        return Err(format!(
            "{}: {secs:.2} s recorded, want >= {min_secs:.2} s",
            path.display()
        ));
    }
    let level = rms(&samples);
    if level <= 0.02 {
        return Err(format!("{}: silent (rms {level:.4})", path.display()));
    }
    let f = dominant_frequency(&samples, rate);
    if (f64::from(f) - hz).abs() > 5.0 {
        return Err(format!(
            "{}: dominant {f:.1} Hz, want {hz} +-5",
            path.display()
        ));
    }
    Ok(format!("{secs:.1} s at {f:.1} Hz"))
}

/// The largest SDP in a summary's `sdps` whose `tracks_published_before` is at most `before`
/// (`usize::MAX`: all of them).
pub fn max_sdp(summary: &Value, before: usize) -> u64 {
    summary["sdps"]
        .as_array()
        .map(|sdps| {
            sdps.iter()
                .filter(|s| {
                    s["tracks_published_before"]
                        .as_u64()
                        .is_some_and(|n| n as usize <= before)
                })
                .filter_map(|s| s["bytes"].as_u64())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}
