//! Starts and stops a release `openchatd` for one scenario: fresh data directory, loopback
//! only, limits raised so a load run is not throttled.

use anyhow::{Context, bail};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server gets to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `openchatd`, killed on drop.
pub struct Openchatd {
    child: Child,
    /// HTTP address.
    pub http: SocketAddr,
    _data: TempDir,
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates `<tmp>/<prefix>-<pid>-<n>`.
    pub fn new(prefix: &str) -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{}-{:08x}",
            std::process::id(),
            rand_u32()
        ));
        std::fs::create_dir_all(&path)?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A random-enough number for temp names (no extra dependency).
pub fn rand_u32() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    t ^ std::process::id().rotate_left(16)
}

/// A free loopback TCP port (bound, then released).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Openchatd {
    /// Starts `binary` and waits for `/readyz`.
    pub async fn start(binary: &Path, media_workers: u32) -> anyhow::Result<Self> {
        let data = TempDir::new("openchat-bench")?;
        let http: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
        let log = std::fs::File::create(data.0.join("openchatd.log"))?;
        let child = Command::new(binary)
            .arg("serve")
            .args(["--listen", &http.to_string()])
            .arg("--data-dir")
            .arg(&data.0)
            .args(["--media-port", "0", "--media-bind-ip", "127.0.0.1"])
            .args(["--log-level", "warn"])
            .args([
                "--set",
                "limits.user_rps=100000",
                "--set",
                "limits.user_burst=100000",
            ])
            .args([
                "--set",
                "limits.device_rps=100000",
                "--set",
                "limits.device_burst=100000",
            ])
            .args(["--set", "rtc.max_participants_per_room=5000"])
            // Every load client connects from 127.0.0.1: lift the per-address cap (256).
            .args(["--set", "http.max_connections_per_ip=0"])
            .args(["--set", &format!("media.workers={media_workers}")])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut server = Self {
            child,
            http,
            _data: data,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.http)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let url = format!("{}/readyz", self.url());
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!("openchatd exited during start-up: {status}");
            }
            if reqwest::get(&url)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("openchatd not ready after {READY_TIMEOUT:?}")
    }
}

impl Drop for Openchatd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
