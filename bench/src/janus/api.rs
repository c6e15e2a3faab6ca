//! A small client of Janus's HTTP API. One [`Hub`] per load process: one Janus session, one
//! long-poll connection for every event, and one plugin handle per simulated client (events are
//! routed by their `sender` handle id). One long poll per client would need one HTTP connection
//! per client, which Janus's HTTP transport does not accept by the hundreds.

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long one event is awaited.
const EVENT_TIMEOUT: Duration = Duration::from_secs(20);
/// Events fetched per long poll.
const MAX_EVENTS: u32 = 100;

static TRANSACTION: AtomicU64 = AtomicU64::new(1);

fn transaction() -> String {
    format!("t{}", TRANSACTION.fetch_add(1, Ordering::Relaxed))
}

type Routes = Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<Value>>>>;

/// One Janus session shared by every client of the process.
pub struct Hub {
    http: reqwest::Client,
    url: String,
    routes: Routes,
    poller: tokio::task::JoinHandle<()>,
}

impl Hub {
    /// Creates the session and starts the long poll.
    pub async fn create(api: &str) -> anyhow::Result<Arc<Hub>> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(40))
            .build()?;
        let created = post(&http, api, json!({"janus": "create"})).await?;
        let id = created["data"]["id"]
            .as_u64()
            .ok_or_else(|| anyhow!("create: no session id in {created}"))?;
        let url = format!("{api}/{id}");
        let routes: Routes = Arc::default();
        let poller = tokio::spawn(long_poll(http.clone(), url.clone(), routes.clone()));
        Ok(Arc::new(Hub {
            http,
            url,
            routes,
            poller,
        }))
    }

    /// Attaches a videoroom handle with its own event stream.
    pub async fn attach_videoroom(self: &Arc<Self>) -> anyhow::Result<Handle> {
        let r = post(
            &self.http,
            &self.url,
            json!({"janus": "attach", "plugin": "janus.plugin.videoroom"}),
        )
        .await?;
        let id = r["data"]["id"]
            .as_u64()
            .ok_or_else(|| anyhow!("attach: no handle id in {r}"))?;
        let (tx, events) = mpsc::unbounded_channel();
        self.routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, tx);
        Ok(Handle {
            hub: self.clone(),
            id,
            events,
        })
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

/// One videoroom plugin handle (one peer connection on the Janus side).
pub struct Handle {
    hub: Arc<Hub>,
    id: u64,
    events: mpsc::UnboundedReceiver<Value>,
}

impl Handle {
    /// Sends a plugin message (with an optional JSEP) and returns Janus's immediate reply.
    pub async fn message(&self, body: Value, jsep: Option<Value>) -> anyhow::Result<Value> {
        let mut m = json!({"janus": "message", "body": body});
        if let Some(jsep) = jsep {
            m["jsep"] = jsep;
        }
        post(&self.hub.http, &format!("{}/{}", self.hub.url, self.id), m).await
    }

    /// The next plugin event for this handle.
    pub async fn next_event(&mut self) -> anyhow::Result<Value> {
        loop {
            let event = tokio::time::timeout(EVENT_TIMEOUT, self.events.recv())
                .await
                .context("no Janus event in time")?
                .ok_or_else(|| anyhow!("the Janus event stream ended"))?;
            if event["janus"] == "event" {
                if let Some(err) = event["plugindata"]["data"].get("error") {
                    bail!("videoroom error: {err}");
                }
                return Ok(event);
            }
        }
    }

    /// Detaches the handle (best effort); Janus closes its peer connection.
    pub async fn detach(self) {
        self.hub
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
        let url = format!("{}/{}", self.hub.url, self.id);
        let _ = post(&self.hub.http, &url, json!({"janus": "detach"})).await;
    }
}

async fn post(http: &reqwest::Client, url: &str, mut body: Value) -> anyhow::Result<Value> {
    body["transaction"] = Value::String(transaction());
    let r: Value = http.post(url).json(&body).send().await?.json().await?;
    if r["janus"] == "error" {
        bail!("janus error: {}", r["error"]);
    }
    Ok(r)
}

async fn long_poll(http: reqwest::Client, url: String, routes: Routes) {
    let poll_url = format!("{url}?maxev={MAX_EVENTS}");
    loop {
        let Ok(response) = http.get(&poll_url).send().await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let Ok(value) = response.json::<Value>().await else {
            continue;
        };
        let batch = match value {
            Value::Array(items) => items,
            other => vec![other],
        };
        let routes = routes.lock().unwrap_or_else(PoisonError::into_inner);
        for event in batch {
            if let Some(tx) = event["sender"].as_u64().and_then(|h| routes.get(&h)) {
                let _ = tx.send(event);
            }
        }
    }
}
