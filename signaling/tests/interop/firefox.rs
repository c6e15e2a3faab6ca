//! Headless Firefox ESR (Debian `firefox-esr`) driven over WebDriver BiDi, which Firefox serves
//! itself with `--remote-debugging-port` (no geckodriver needed). Fake media devices and loopback
//! ICE come from prefs in a fresh profile.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;

/// Longest wait for `WebDriver BiDi listening on ...`.
const STARTUP: Duration = Duration::from_secs(60);
/// Longest wait for one BiDi command.
const COMMAND: Duration = Duration::from_secs(30);

/// Prefs for a test profile: fake microphone without a prompt, ICE on loopback, no first-run noise.
///
/// Firefox gathers only its default route's address (here not loopback, so ICE with a server on
/// 127.0.0.1 never starts) unless the page is capturing or has a permission; a fake device counts
/// as capturing only with `media.navigator.permission.fake`. `ice.loopback` then adds 127.0.0.1.
const PREFS: &str = r#"
user_pref("media.navigator.streams.fake", true);
user_pref("media.navigator.permission.disabled", true);
user_pref("media.navigator.permission.fake", true);
user_pref("media.peerconnection.ice.loopback", true);
user_pref("media.peerconnection.ice.obfuscate_host_addresses", false);
user_pref("media.autoplay.default", 0);
user_pref("media.autoplay.blocking_policy", 0);
user_pref("media.navigator.audio.fake_frequency", 1000);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.update.disabledForTesting", true);
user_pref("network.captive-portal-service.enabled", false);
"#;

/// The tone of Firefox's fake microphone (`media.navigator.audio.fake_frequency` above).
pub const FAKE_MICROPHONE_HZ: f64 = 1000.0;

/// `$FIREFOX_BIN`, else Debian's `firefox-esr`.
pub fn find() -> Option<PathBuf> {
    std::env::var_os("FIREFOX_BIN")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/bin/firefox-esr", "/usr/bin/firefox"].map(PathBuf::from))
        .find(|p| p.is_file())
}

/// A running headless Firefox with a BiDi session on its only tab; killed on drop.
pub struct Firefox {
    child: Child,
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
    context: String,
    _profile: tempfile::TempDir,
}

impl Firefox {
    /// Starts Firefox and opens a BiDi session.
    pub async fn launch(binary: &std::path::Path) -> anyhow::Result<Firefox> {
        let profile = tempfile::tempdir()?;
        std::fs::write(profile.path().join("user.js"), PREFS)?;
        let mut child = Command::new(binary)
            .args(["--headless", "--no-remote", "--remote-debugging-port", "0"])
            .arg("--profile")
            .arg(profile.path())
            .arg("about:blank")
            .env("MOZ_CRASHREPORTER_DISABLE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let stderr = child.stderr.take().ok_or_else(|| anyhow!("no stderr"))?;
        let mut lines = BufReader::new(stderr).lines();
        let url = tokio::time::timeout(STARTUP, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("WebDriver BiDi listening on ") {
                    return Some(url.trim().to_string());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .ok_or_else(|| anyhow!("Firefox announced no BiDi endpoint within {STARTUP:?}"))?;
        // Keep draining stderr so Firefox never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (ws, _) = tokio_tungstenite::connect_async(format!("{url}/session"))
            .await
            .context("BiDi WebSocket")?;
        let mut firefox = Firefox {
            child,
            ws,
            next_id: 0,
            context: String::new(),
            _profile: profile,
        };
        firefox
            .call("session.new", json!({"capabilities": {}}))
            .await?;
        let tree = firefox.call("browsingContext.getTree", json!({})).await?;
        firefox.context = tree["contexts"][0]["context"]
            .as_str()
            .ok_or_else(|| anyhow!("no browsing context: {tree}"))?
            .to_string();
        Ok(firefox)
    }

    /// Sends one BiDi command and returns its `result`.
    pub async fn call(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let frame = json!({"id": id, "method": method, "params": params});
        self.ws
            .send(Message::Text(frame.to_string().into()))
            .await?;
        tokio::time::timeout(COMMAND, async {
            while let Some(message) = self.ws.next().await {
                let Message::Text(text) = message? else {
                    continue;
                };
                let reply: Value = serde_json::from_str(text.as_str())?;
                if reply["id"] != id {
                    continue; // an event
                }
                if reply["type"] == "error" {
                    bail!("{method}: {} ({})", reply["error"], reply["message"]);
                }
                return Ok(reply["result"].clone());
            }
            bail!("the BiDi connection closed")
        })
        .await
        .map_err(|_| anyhow!("{method}: no reply within {COMMAND:?}"))?
    }

    /// Loads `url` in the tab.
    pub async fn navigate(&mut self, url: &str) -> anyhow::Result<()> {
        let context = self.context.clone();
        self.call(
            "browsingContext.navigate",
            json!({"context": context, "url": url, "wait": "complete"}),
        )
        .await?;
        Ok(())
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns its value as JSON.
    pub async fn eval(&mut self, expression: &str) -> anyhow::Result<Value> {
        let context = self.context.clone();
        let wrapped = format!("(async () => JSON.stringify(await ({expression})))()");
        let result = self
            .call(
                "script.evaluate",
                json!({
                    "expression": wrapped,
                    "target": {"context": context},
                    "awaitPromise": true,
                    "resultOwnership": "none",
                }),
            )
            .await?;
        if result["type"] == "exception" {
            bail!(
                "`{expression}` threw: {}",
                result["exceptionDetails"]["text"]
            );
        }
        match result["result"]["value"].as_str() {
            Some(text) => Ok(serde_json::from_str(text)?),
            None => Ok(Value::Null), // `undefined`
        }
    }
}

impl Drop for Firefox {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
