//! Finds and launches headless Chromium with fake media devices; the guard kills it on drop.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

/// Longest wait for the `DevTools listening on ...` line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Stderr lines kept for failure reports.
const STDERR_LINES: usize = 200;

/// Where Chromium may live: `$CHROMIUM_BIN` first, then the Debian paths (the real binary before the
/// wrapper script, which only adds noise).
pub fn find() -> Option<PathBuf> {
    let from_env = std::env::var_os("CHROMIUM_BIN").map(PathBuf::from);
    from_env
        .into_iter()
        .chain(
            [
                "/usr/lib/chromium/chromium",
                "/usr/bin/chromium",
                "/usr/bin/chromium-browser",
                "/usr/bin/google-chrome",
            ]
            .map(PathBuf::from),
        )
        .find(|p| p.is_file())
}

/// A running Chromium. Dropping it kills the browser.
pub struct Chromium {
    child: Child,
    /// The browser-level DevTools WebSocket URL.
    pub devtools_url: String,
    stderr: Arc<Mutex<VecDeque<String>>>,
    // Dropped after the child is killed (fields drop in order after `Drop::drop`).
    _profile: tempfile::TempDir,
}

impl Chromium {
    /// Starts headless Chromium with fake microphone/camera and loopback ICE allowed.
    pub async fn launch(binary: &Path) -> anyhow::Result<Chromium> {
        let profile = tempfile::tempdir().context("profile dir")?;
        let mut child = Command::new(binary)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--allow-loopback-in-peer-connection",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                "--autoplay-policy=no-user-gesture-required",
                "--remote-debugging-port=0",
                "--window-size=1000,700",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| anyhow!("no stderr pipe"))?;
        let tail: Arc<Mutex<VecDeque<String>>> = Arc::default();
        let (url_tx, url_rx) = oneshot::channel();
        tokio::spawn(read_stderr(stderr, url_tx, tail.clone()));
        let mut chromium = Chromium {
            child,
            devtools_url: String::new(),
            stderr: tail,
            _profile: profile,
        };
        match tokio::time::timeout(STARTUP_TIMEOUT, url_rx).await {
            Ok(Ok(url)) => chromium.devtools_url = url,
            _ => {
                return Err(anyhow!(
                    "Chromium printed no DevTools URL within {STARTUP_TIMEOUT:?}; stderr:\n{}",
                    chromium.stderr_tail()
                ));
            }
        }
        Ok(chromium)
    }

    /// The last lines Chromium wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        let lines = self.stderr.lock().expect("stderr lock");
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        // Reap it so the profile directory is not in use when it is removed.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

async fn read_stderr(
    stderr: tokio::process::ChildStderr,
    url_tx: oneshot::Sender<String>,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    let mut url_tx = Some(url_tx);
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(url) = line.strip_prefix("DevTools listening on ")
            && let Some(tx) = url_tx.take()
        {
            let _ = tx.send(url.trim().to_string());
        }
        if line.contains(":ERROR:dbus/") {
            continue; // no system bus in containers: noise
        }
        let mut tail = tail.lock().expect("stderr lock");
        if tail.len() == STDERR_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }
}
