//! A small client of Janus's HTTP API: one session, plugin handles, requests, and a long-poll
//! task that delivers asynchronous events.

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long one event is awaited.
const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

static TRANSACTION: AtomicU64 = AtomicU64::new(1);

fn transaction() -> String {
    format!("t{}", TRANSACTION.fetch_add(1, Ordering::Relaxed))
}

/// A Janus session with its event stream.
pub struct Session {
    http: reqwest::Client,
    url: String,
    events: mpsc::UnboundedReceiver<Value>,
    poller: tokio::task::JoinHandle<()>,
}

impl Session {
    /// Creates a session and starts long-polling its events.
    pub async fn create(api: &str) -> anyhow::Result<Session> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(40))
            .build()?;
        let created = post(&http, api, json!({"janus": "create"})).await?;
        let id = created["data"]["id"]
            .as_u64()
            .ok_or_else(|| anyhow!("create: no session id in {created}"))?;
        let url = format!("{api}/{id}");
        let (tx, events) = mpsc::unbounded_channel();
        let poller = tokio::spawn(long_poll(http.clone(), url.clone(), tx));
        Ok(Session {
            http,
            url,
            events,
            poller,
        })
    }

    /// Attaches to the videoroom plugin; returns the handle id.
    pub async fn attach_videoroom(&self) -> anyhow::Result<u64> {
        let r = post(
            &self.http,
            &self.url,
            json!({"janus": "attach", "plugin": "janus.plugin.videoroom"}),
        )
        .await?;
        r["data"]["id"]
            .as_u64()
            .ok_or_else(|| anyhow!("attach: no handle id in {r}"))
    }

    /// Sends a plugin message (with an optional JSEP) and returns Janus's immediate reply.
    pub async fn message(
        &self,
        handle: u64,
        body: Value,
        jsep: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut m = json!({"janus": "message", "body": body});
        if let Some(jsep) = jsep {
            m["jsep"] = jsep;
        }
        post(&self.http, &format!("{}/{handle}", self.url), m).await
    }

    /// The next plugin event for `handle` (other events are skipped).
    pub async fn next_event(&mut self, handle: u64) -> anyhow::Result<Value> {
        loop {
            let event = tokio::time::timeout(EVENT_TIMEOUT, self.events.recv())
                .await
                .context("no Janus event in time")?
                .ok_or_else(|| anyhow!("the Janus event stream ended"))?;
            if event["sender"].as_u64() == Some(handle) && event["janus"] == "event" {
                if let Some(err) = event["plugindata"]["data"].get("error") {
                    bail!("videoroom error: {err}");
                }
                return Ok(event);
            }
        }
    }

    /// Destroys the session (best effort).
    pub async fn destroy(self) {
        let _ = post(&self.http, &self.url, json!({"janus": "destroy"})).await;
        self.poller.abort();
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

async fn long_poll(http: reqwest::Client, url: String, tx: mpsc::UnboundedSender<Value>) {
    let poll_url = format!("{url}?maxev=10");
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
        for event in batch {
            if tx.send(event).is_err() {
                return;
            }
        }
    }
}
