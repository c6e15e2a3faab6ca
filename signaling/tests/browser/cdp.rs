//! A minimal Chrome DevTools Protocol client: one WebSocket to the browser endpoint, flat sessions
//! for pages (`Target.attachToTarget {flatten: true}`), commands matched to replies by id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Replies = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>>;

/// Longest wait for the reply to one command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Console lines and page exceptions kept for failure reports.
const CONSOLE_LINES: usize = 400;

/// A connection to the browser's DevTools endpoint.
pub struct Cdp {
    sink: tokio::sync::Mutex<SplitSink<Socket, Message>>,
    replies: Replies,
    next_id: AtomicU64,
    console: Arc<Mutex<Vec<String>>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Cdp {
    /// Connects to `ws://.../devtools/browser/...`.
    pub async fn connect(url: &str) -> anyhow::Result<Cdp> {
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .with_context(|| format!("cannot connect to DevTools at {url}"))?;
        let (sink, mut stream) = socket.split();
        let replies: Replies = Arc::default();
        let console: Arc<Mutex<Vec<String>>> = Arc::default();
        let reader = {
            let replies = replies.clone();
            let console = console.clone();
            tokio::spawn(async move {
                while let Some(Ok(message)) = stream.next().await {
                    let Message::Text(text) = message else {
                        continue;
                    };
                    let Ok(value) = serde_json::from_str::<Value>(text.as_str()) else {
                        continue;
                    };
                    dispatch(value, &replies, &console);
                }
                // The browser went away: fail every command still waiting.
                for (_, tx) in replies.lock().expect("replies lock").drain() {
                    let _ = tx.send(Err("the DevTools connection closed".into()));
                }
            })
        };
        Ok(Cdp {
            sink: tokio::sync::Mutex::new(sink),
            replies,
            next_id: AtomicU64::new(1),
            console,
            reader,
        })
    }

    /// Sends one command (to a page when `session` is set) and waits for its result.
    pub async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> anyhow::Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut request = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            request["sessionId"] = json!(session);
        }
        let (tx, rx) = oneshot::channel();
        self.replies.lock().expect("replies lock").insert(id, tx);
        self.sink
            .lock()
            .await
            .send(Message::Text(request.to_string().into()))
            .await
            .with_context(|| format!("cannot send {method}"))?;
        match tokio::time::timeout(COMMAND_TIMEOUT, rx).await {
            Ok(Ok(Ok(result))) => Ok(result),
            Ok(Ok(Err(error))) => bail!("{method} failed: {error}"),
            Ok(Err(_)) => bail!("{method}: the DevTools connection closed"),
            Err(_) => {
                self.replies.lock().expect("replies lock").remove(&id);
                bail!("{method}: no reply within {COMMAND_TIMEOUT:?}")
            }
        }
    }

    /// Console messages and uncaught exceptions of every attached page, oldest first.
    pub fn console(&self) -> Vec<String> {
        self.console.lock().expect("console lock").clone()
    }
}

impl Drop for Cdp {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

fn dispatch(value: Value, replies: &Replies, console: &Mutex<Vec<String>>) {
    if let Some(id) = value.get("id").and_then(Value::as_u64) {
        let Some(tx) = replies.lock().expect("replies lock").remove(&id) else {
            return;
        };
        let result = match value.get("error") {
            Some(error) => Err(error.to_string()),
            None => Ok(value.get("result").cloned().unwrap_or(Value::Null)),
        };
        let _ = tx.send(result);
        return;
    }
    let session = value["sessionId"].as_str().unwrap_or("browser");
    let short = &session[..session.len().min(6)];
    let line = match value["method"].as_str() {
        Some("Runtime.consoleAPICalled") => {
            let args: Vec<String> = value["params"]["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| match &a["value"] {
                    Value::String(s) => s.clone(),
                    Value::Null => a["description"].as_str().unwrap_or("?").to_string(),
                    v => v.to_string(),
                })
                .collect();
            let kind = value["params"]["type"].as_str().unwrap_or("log");
            format!("[{short}] console.{kind}: {}", args.join(" "))
        }
        Some("Runtime.exceptionThrown") => {
            let details = &value["params"]["exceptionDetails"];
            let text = details["exception"]["description"]
                .as_str()
                .or(details["text"].as_str())
                .unwrap_or("?");
            format!("[{short}] uncaught: {text}")
        }
        _ => return,
    };
    let mut console = console.lock().expect("console lock");
    if console.len() == CONSOLE_LINES {
        console.remove(0);
    }
    console.push(line);
}

/// A page (tab) attached over a flat session.
pub struct Page<'a> {
    cdp: &'a Cdp,
    session: String,
    /// Which page in failure reports.
    pub name: String,
}

impl<'a> Page<'a> {
    /// Opens a new tab at `url` with console capture on.
    pub async fn open(cdp: &'a Cdp, name: &str, url: &str) -> anyhow::Result<Page<'a>> {
        let page = Page::blank(cdp, name).await?;
        page.navigate(url).await?;
        Ok(page)
    }

    /// Opens a new `about:blank` tab with console capture on.
    pub async fn blank(cdp: &'a Cdp, name: &str) -> anyhow::Result<Page<'a>> {
        let target = cdp
            .call(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await?;
        let target_id = target["targetId"]
            .as_str()
            .ok_or_else(|| anyhow!("Target.createTarget returned no targetId: {target}"))?;
        let attached = cdp
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target_id, "flatten": true}),
            )
            .await?;
        let session = attached["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow!("Target.attachToTarget returned no sessionId: {attached}"))?
            .to_string();
        let page = Page {
            cdp,
            session,
            name: name.to_string(),
        };
        page.call("Runtime.enable", json!({})).await?;
        page.call("Page.enable", json!({})).await?;
        Ok(page)
    }

    /// Runs `source` in every document this page loads from now on, before the page's scripts.
    pub async fn add_init_script(&self, source: &str) -> anyhow::Result<()> {
        self.call(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": source}),
        )
        .await?;
        Ok(())
    }

    /// Loads `url`.
    pub async fn navigate(&self, url: &str) -> anyhow::Result<()> {
        let nav = self.call("Page.navigate", json!({"url": url})).await?;
        if let Some(error) = nav["errorText"].as_str() {
            bail!("{}: navigation to {url} failed: {error}", self.name);
        }
        Ok(())
    }

    /// A command in this page's session.
    pub async fn call(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.cdp.call(Some(&self.session), method, params).await
    }

    /// Evaluates `expression` (awaiting a returned promise) and returns its JSON value.
    pub async fn eval(&self, expression: &str) -> anyhow::Result<Value> {
        let reply = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
            )
            .await?;
        if let Some(details) = reply.get("exceptionDetails") {
            let text = details["exception"]["description"]
                .as_str()
                .or(details["text"].as_str())
                .unwrap_or("?");
            bail!("{}: `{expression}` threw: {text}", self.name);
        }
        Ok(reply["result"]["value"].clone())
    }

    /// A PNG screenshot of the viewport.
    pub async fn screenshot(&self) -> anyhow::Result<Vec<u8>> {
        let reply = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await?;
        let data = reply["data"]
            .as_str()
            .ok_or_else(|| anyhow!("Page.captureScreenshot returned no data"))?;
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .context("screenshot is not base64")
    }
}
