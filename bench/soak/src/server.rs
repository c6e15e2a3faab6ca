//! The server under soak: one release `openchatd` on a fresh data directory, with SQLite (the
//! embedded default) or a fresh PostgreSQL database created for the run and dropped afterwards.

use anyhow::{Context, bail};
use reqwest::Url;
use sqlx::{AssertSqlSafe, Connection, Executor};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server gets to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `openchatd`, killed on drop.
pub struct Openchatd {
    child: Child,
    /// HTTP address.
    pub http: SocketAddr,
    /// Its data directory (SQLite file, keys, log).
    pub data_dir: PathBuf,
}

impl Openchatd {
    /// Starts `binary` on a fresh `data_dir` (with `database_url`, or SQLite in the data
    /// directory) and waits for `/readyz`.
    pub async fn start(
        binary: &Path,
        data_dir: &Path,
        database_url: Option<&str>,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let http: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
        let log = std::fs::File::create(data_dir.join("openchatd.log"))?;
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .args(["--listen", &http.to_string()])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--media-port", "0", "--media-bind-ip", "127.0.0.1"])
            .args(["--log-level", "warn"]);
        if let Some(url) = database_url {
            command.args(["--database-url", url]);
        }
        // The soak's own users make many requests each; the limits are not under test.
        for setting in [
            "limits.user_rps=100000",
            "limits.user_burst=100000",
            "limits.device_rps=100000",
            "limits.device_burst=100000",
        ] {
            command.args(["--set", setting]);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut server = Self {
            child,
            http,
            data_dir: data_dir.to_owned(),
        };
        server.wait_ready().await?;
        Ok(server)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Base URL.
    pub fn url(&self) -> anyhow::Result<Url> {
        Ok(Url::parse(&format!("http://{}", self.http))?)
    }

    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Lines of its log at WARN or above, by level.
    pub fn log_counts(&self) -> (usize, usize) {
        let text = std::fs::read_to_string(self.data_dir.join("openchatd.log")).unwrap_or_default();
        let warn = text.lines().filter(|l| l.contains("WARN")).count();
        let error = text.lines().filter(|l| l.contains("ERROR")).count();
        (warn, error)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let url = format!("http://{}/readyz", self.http);
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

/// A free loopback TCP port (bound, then released).
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A PostgreSQL database made for one run. [`FreshDatabase::drop_now`] removes it.
pub struct FreshDatabase {
    admin_url: String,
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
}

impl FreshDatabase {
    /// Creates `soak_<pid>_<random>` on the server of `admin_url`.
    pub async fn create(admin_url: &str) -> anyhow::Result<Self> {
        let name = format!("soak_{}_{:08x}", std::process::id(), rand::random::<u32>());
        let mut admin = sqlx::PgConnection::connect(admin_url)
            .await
            .with_context(|| format!("connecting to {admin_url}"))?;
        admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await?;
        admin.close().await?;
        let mut url = Url::parse(admin_url)?;
        url.set_path(&format!("/{name}"));
        Ok(Self {
            admin_url: admin_url.to_owned(),
            name,
            url: url.to_string(),
        })
    }

    /// Server-side connections to this database now (`pg_stat_activity`).
    pub async fn backends(&self, admin: &mut sqlx::PgConnection) -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1")
                .bind(&self.name)
                .fetch_one(admin)
                .await?,
        )
    }

    /// A connection to the administrative database (for [`FreshDatabase::backends`]).
    pub async fn admin(&self) -> anyhow::Result<sqlx::PgConnection> {
        Ok(sqlx::PgConnection::connect(&self.admin_url).await?)
    }

    /// Drops the database (after the server stopped).
    pub async fn drop_now(self) -> anyhow::Result<()> {
        let mut admin = self.admin().await?;
        admin
            .execute(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .await?;
        Ok(())
    }
}
