//! The `rtc-joiner` binary (crate `rtc-joiner/`), run as a second participant.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// `$RTC_JOINER_BIN`, else `rtc-joiner` beside this test's own target directory.
pub fn locate() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("RTC_JOINER_BIN") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("RTC_JOINER_BIN={} is not a file", path.display());
        }
        return Ok(path);
    }
    // This test runs as <target>/debug/deps/browser-<hash>.
    let exe = std::env::current_exe().context("current_exe")?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("test binary has no target directory")?;
    let path = profile_dir.join("rtc-joiner");
    if !path.is_file() {
        bail!(
            "{} is missing: build it first with `cargo build -p rtc-joiner` \
             (or point RTC_JOINER_BIN at it)",
            path.display()
        );
    }
    Ok(path)
}

/// A running joiner; killed on drop. Its stdout and stderr go to files for failure reports.
pub struct Joiner {
    child: Child,
    log: PathBuf,
}

impl Joiner {
    /// Runs `binary` with `args`, logging to `<log_dir>/rtc-joiner.log`.
    pub fn spawn(binary: &Path, args: &[String], log_dir: &Path) -> anyhow::Result<Joiner> {
        let log = log_dir.join("rtc-joiner.log");
        let out = std::fs::File::create(&log).context("joiner log")?;
        let err = out.try_clone().context("joiner log")?;
        let child = Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        Ok(Joiner { child, log })
    }

    /// Waits for the joiner to exit; an error if it fails or outlives `limit`.
    pub async fn wait(&mut self, limit: Duration) -> anyhow::Result<()> {
        let status = match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(status) => status.context("waiting for rtc-joiner")?,
            Err(_) => bail!(
                "rtc-joiner still running after {limit:?}:\n{}",
                self.output()
            ),
        };
        if !status.success() {
            bail!("rtc-joiner exited with {status}:\n{}", self.output());
        }
        Ok(())
    }

    /// Everything the joiner printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_else(|e| format!("(no log: {e})"))
    }
}
