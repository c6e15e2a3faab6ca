//! An in-process development-mode `openchatd` on ephemeral ports.

use anyhow::Context;

/// A running server and the data directory it owns.
pub struct TestServer {
    running: Option<signaling::Running>,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    _data_dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts the server with SQLite in a fresh directory, HTTP and media on port 0, and
    /// `overrides` (config keys and values) on top.
    pub async fn start_with(overrides: &[(&str, &str)]) -> anyhow::Result<TestServer> {
        let data_dir = tempfile::tempdir().context("data dir")?;
        let mut settings: Vec<(String, String)> = vec![
            ("http.listen".into(), "127.0.0.1:0".into()),
            ("media.port".into(), "0".into()),
            ("data_dir".into(), data_dir.path().display().to_string()),
        ];
        settings.extend(
            overrides
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let config = signaling::config::load(None, std::iter::empty(), &settings)?;
        let running = signaling::start(config).await?;
        let base_url = format!("http://{}", running.http_addr);
        Ok(TestServer {
            running: Some(running),
            base_url,
            _data_dir: data_dir,
        })
    }

    /// Stops the server (dropping it without `stop` aborts it with the runtime).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
        Ok(())
    }
}
