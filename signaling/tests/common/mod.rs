//! Shared test support: an in-process `openchatd` on ephemeral ports, over SQLite or PostgreSQL,
//! plus HTTP and WebSocket helpers.

#![allow(dead_code)]

pub mod joiner;
pub mod netns;
pub mod video;

use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use signaling::Running;
use tokio_tungstenite::tungstenite::Message;

/// Which database a test server uses.
#[derive(Clone, Copy, Debug)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A running server and what keeps its resources alive.
pub struct TestServer {
    pub running: Option<Running>,
    pub base: String,
    pub data_dir: tempfile::TempDir,
    pg: Option<control::testing::PgDbGuard>,
    http: reqwest::Client,
}

impl TestServer {
    /// Starts a development-mode server. `None` when the database is unavailable (skipped).
    pub async fn start(db: Db) -> Option<TestServer> {
        Self::start_with(db, &[]).await
    }

    /// Starts a server with extra `key=value` settings.
    pub async fn start_with(db: Db, extra: &[(&str, &str)]) -> Option<TestServer> {
        let data_dir = tempfile::tempdir().expect("tempdir");
        let mut settings: Vec<(String, String)> = vec![
            ("http.listen".into(), "127.0.0.1:0".into()),
            ("media.port".into(), "0".into()),
            ("data_dir".into(), data_dir.path().display().to_string()),
            ("log.level".into(), "warn".into()),
        ];
        let mut pg = None;
        if let Db::Postgres = db {
            let (control, guard) = control::testing::postgres_fresh().await?;
            control.close().await;
            settings.push(("database.url".into(), guard.database_url().to_string()));
            pg = Some(guard);
        }
        for (k, v) in extra {
            settings.push((k.to_string(), v.to_string()));
        }
        let config = signaling::config::load(None, std::iter::empty(), &settings).expect("config");
        let running = signaling::start(config).await.expect("server starts");
        let base = format!("http://{}", running.http_addr);
        Some(TestServer {
            running: Some(running),
            base,
            data_dir,
            pg,
            http: reqwest::Client::new(),
        })
    }

    /// A second `openchatd` node on this server's PostgreSQL database, with node id `node_id`
    /// (PostgreSQL only; the database stays owned by `self`).
    pub async fn second_node(&self, node_id: &str) -> TestServer {
        let url = self
            .pg
            .as_ref()
            .expect("a second node needs PostgreSQL")
            .database_url()
            .to_string();
        let data_dir = tempfile::tempdir().expect("tempdir");
        let settings: Vec<(String, String)> = vec![
            ("http.listen".into(), "127.0.0.1:0".into()),
            ("media.port".into(), "0".into()),
            ("data_dir".into(), data_dir.path().display().to_string()),
            ("log.level".into(), "warn".into()),
            ("database.url".into(), url),
            ("rtc.node_id".into(), node_id.into()),
        ];
        let config = signaling::config::load(None, std::iter::empty(), &settings).expect("config");
        let running = signaling::start(config).await.expect("second node starts");
        let base = format!("http://{}", running.http_addr);
        TestServer {
            running: Some(running),
            base,
            data_dir,
            pg: None,
            http: reqwest::Client::new(),
        }
    }

    pub fn ws_url(&self) -> String {
        format!("{}/v1/rtc/signaling", self.base.replacen("http", "ws", 1))
    }

    pub fn data_path(&self, name: &str) -> PathBuf {
        self.data_dir.path().join(name)
    }

    /// POST with an optional bearer token; returns status and JSON body.
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let body = resp.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// Any method with an optional bearer token and JSON body; returns status and JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let body = resp.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// A development token for `user` on device `device`.
    pub async fn device_token(&self, user: &str, device: &str) -> String {
        let (status, body) = self
            .post(
                "/v1/dev/token",
                None,
                json!({"user_id": user, "device_id": device}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().expect("token").to_string()
    }

    /// A join ticket for `channel` with an existing token.
    pub async fn ticket_with(&self, token: &str, channel: &str) -> String {
        let (status, body) = self
            .post(
                &format!("/v1/rtc/channels/{channel}/join-ticket"),
                Some(token),
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["ticket"].as_str().expect("ticket").to_string()
    }

    /// GET; returns status and body text.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        (
            resp.status().as_u16(),
            resp.text().await.unwrap_or_default(),
        )
    }

    pub async fn dev_token(&self, user: &str) -> String {
        let (status, body) = self
            .post("/v1/dev/token", None, json!({"user_id": user}))
            .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().expect("token").to_string()
    }

    pub async fn ticket(&self, user: &str, channel: &str) -> String {
        let token = self.dev_token(user).await;
        let (status, body) = self
            .post(
                &format!("/v1/rtc/channels/{channel}/join-ticket"),
                Some(&token),
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["ticket"].as_str().expect("ticket").to_string()
    }

    pub async fn ws(&self) -> Ws {
        let (stream, _) = tokio_tungstenite::connect_async(self.ws_url())
            .await
            .expect("ws connects");
        Ws { stream }
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        if let Some(pg) = self.pg.take() {
            pg.cleanup().await;
        }
    }
}

/// A signaling WebSocket client.
pub struct Ws {
    pub stream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Ws {
    pub async fn send(&mut self, v: Value) {
        self.stream
            .send(Message::Text(v.to_string().into()))
            .await
            .expect("send");
    }

    pub async fn send_raw(&mut self, m: Message) {
        self.stream.send(m).await.expect("send");
    }

    /// Next JSON frame within 10 s; `None` when the socket closed.
    pub async fn recv(&mut self) -> Option<Value> {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("a frame within 10 s");
            match next {
                Some(Ok(Message::Text(t))) => {
                    return Some(serde_json::from_str(t.as_str()).expect("json frame"));
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Receives until a frame of `kind` arrives.
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        loop {
            let v = self
                .recv()
                .await
                .unwrap_or_else(|| panic!("socket closed before {kind}"));
            if v["type"] == kind {
                return v;
            }
        }
    }

    /// Receives until an error frame arrives and returns its code.
    pub async fn error_code(&mut self) -> String {
        let v = self.recv_type("error").await;
        v["code"].as_str().expect("code").to_string()
    }

    /// Waits until the server closes the socket.
    pub async fn closed(&mut self) -> bool {
        while self.recv().await.is_some() {}
        true
    }

    pub async fn join(&mut self, ticket: &str) -> Value {
        self.send(json!({"type": "join", "protocol": 1, "ticket": ticket}))
            .await;
        self.recv_type("joined").await
    }
}

/// Runs a test body on SQLite, and on PostgreSQL when `DATABASE_URL` is set.
#[macro_export]
macro_rules! on_both_databases {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let server = TestServer::start(Db::Sqlite).await.expect("sqlite");
                $body(&server).await;
                server.stop().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(server) = TestServer::start(Db::Postgres).await else {
                    return;
                };
                $body(&server).await;
                server.stop().await;
            }
        }
    };
}

/// A syntactically valid client offer, generated by a str0m peer.
pub fn client_offer(lines: &[(str0m::media::MediaKind, str0m::media::Direction)]) -> String {
    let mut rtc = str0m::Rtc::builder().build(std::time::Instant::now());
    let addr = "127.0.0.1:9".parse().expect("addr");
    rtc.add_local_candidate(str0m::Candidate::host(addr, "udp").expect("candidate"));
    let mut api = rtc.sdp_api();
    for (k, d) in lines {
        api.add_media(*k, *d, None, None, None);
    }
    let (offer, _) = api.apply().expect("offer");
    offer.to_sdp_string()
}

/// Reads the ticket key a development server generated.
pub fn ticket_key(server: &TestServer) -> String {
    std::fs::read_to_string(server.data_path("ticket-key"))
        .expect("ticket key")
        .trim()
        .to_string()
}
