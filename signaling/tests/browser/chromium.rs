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

/// Where and how Chromium runs (the default: in the test's own network, DevTools on a free
/// loopback port).
#[derive(Default)]
pub struct Launch {
    /// Runs it inside this network namespace (`ip netns exec`), whose own address is the second
    /// string: its DevTools port is then reached through a relay (socat) on that address.
    pub netns: Option<(String, String)>,
    /// An `http://` origin to treat as secure (the camera needs a secure context, and only
    /// loopback is one without TLS).
    pub secure_origin: Option<String>,
}

/// The DevTools port inside a namespace (its own port space), and the relay's port.
const NETNS_DEVTOOLS_PORT: u16 = 9222;
const NETNS_RELAY_PORT: u16 = 9223;

/// A running Chromium. Dropping it kills the browser.
pub struct Chromium {
    child: Child,
    /// The relay to its DevTools port when it runs in a namespace.
    relay: Option<Child>,
    /// The browser-level DevTools WebSocket URL.
    pub devtools_url: String,
    stderr: Arc<Mutex<VecDeque<String>>>,
    // Dropped after the child is killed (fields drop in order after `Drop::drop`).
    _profile: tempfile::TempDir,
}

impl Chromium {
    /// Starts headless Chromium with fake microphone/camera and loopback ICE allowed, where and
    /// how `launch` says.
    pub async fn launch_with(binary: &Path, launch: Launch) -> anyhow::Result<Chromium> {
        let profile = tempfile::tempdir().context("profile dir")?;
        let mut command = match &launch.netns {
            Some((name, _)) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", name.as_str()]).arg(binary);
                c.arg(format!("--remote-debugging-port={NETNS_DEVTOOLS_PORT}"));
                c
            }
            None => {
                let mut c = Command::new(binary);
                c.arg("--remote-debugging-port=0");
                c
            }
        };
        if let Some(origin) = &launch.secure_origin {
            command.arg(format!(
                "--unsafely-treat-insecure-origin-as-secure={origin}"
            ));
        }
        let mut child = command
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
        let relay = match &launch.netns {
            Some((name, ns_ip)) => Some(
                Command::new("ip")
                    .args(["netns", "exec", name.as_str(), "socat"])
                    .arg(format!(
                        "TCP-LISTEN:{NETNS_RELAY_PORT},bind={ns_ip},reuseaddr,fork"
                    ))
                    .arg(format!("TCP:127.0.0.1:{NETNS_DEVTOOLS_PORT}"))
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .kill_on_drop(true)
                    .spawn()
                    .context("cannot start socat in the namespace (DevTools relay)")?,
            ),
            None => None,
        };
        let mut chromium = Chromium {
            child,
            relay,
            devtools_url: String::new(),
            stderr: tail,
            _profile: profile,
        };
        match tokio::time::timeout(STARTUP_TIMEOUT, url_rx).await {
            Ok(Ok(url)) => {
                chromium.devtools_url = match &launch.netns {
                    Some((_, ns_ip)) => url.replace(
                        &format!("127.0.0.1:{NETNS_DEVTOOLS_PORT}"),
                        &format!("{ns_ip}:{NETNS_RELAY_PORT}"),
                    ),
                    None => url,
                }
            }
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
        if let Some(relay) = &mut self.relay {
            let _ = relay.start_kill();
        }
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
