//! Test helpers: a minimal fake backend (HTTP routes + signaling WebSocket) on 127.0.0.1.
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// One HTTP request as the fake backend saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

/// Serves HTTP/1.1 on 127.0.0.1 with `handler` deciding `(status, json body)`.
pub async fn serve_http<F>(handler: F) -> SocketAddr
where
    F: Fn(Request) -> (u16, Value) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind http");
    let addr = listener.local_addr().expect("addr");
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handler = Arc::clone(&handler);
            tokio::spawn(async move {
                let _ = handle_http(stream, handler.as_ref()).await;
            });
        }
    });
    addr
}

async fn handle_http<F>(mut stream: TcpStream, handler: &F) -> std::io::Result<()>
where
    F: Fn(Request) -> (u16, Value),
{
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.lines();
    let mut request_line = lines.next().unwrap_or_default().split_whitespace();
    let method = request_line.next().unwrap_or_default().to_owned();
    let path = request_line.next().unwrap_or_default().to_owned();
    let mut content_length = 0usize;
    let mut authorization = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => content_length = value.trim().parse().unwrap_or(0),
                "authorization" => authorization = Some(value.trim().to_owned()),
                _ => {}
            }
        }
    }
    while buf.len() < head_end + content_length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = serde_json::from_slice(&buf[head_end..]).unwrap_or(Value::Null);
    let (status, response) = handler(Request {
        method,
        path,
        authorization,
        body,
    });
    let response = response.to_string();
    let reply = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{response}",
        response.len()
    );
    stream.write_all(reply.as_bytes()).await?;
    stream.shutdown().await
}

/// Accepts WebSocket connections on 127.0.0.1 and runs `script` for each.
pub async fn serve_ws<F, Fut>(script: F) -> SocketAddr
where
    F: Fn(WebSocketStream<TcpStream>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind ws");
    let addr = listener.local_addr().expect("addr");
    let script = Arc::new(script);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let script = Arc::clone(&script);
            tokio::spawn(async move {
                if let Ok(ws) = tokio_tungstenite::accept_async(stream).await {
                    script(ws).await;
                }
            });
        }
    });
    addr
}

/// The standard happy-path HTTP routes, pointing tickets at `ws_addr`.
pub fn backend_routes(ws_addr: SocketAddr) -> impl Fn(Request) -> (u16, Value) + Send + Sync {
    move |req: Request| match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/v1/dev/token") => (
            200,
            serde_json::json!({
                "access_token": format!("token-for-{}", req.body["user_id"].as_str().unwrap_or("")),
                "token_type": "Bearer", "expires_in": 86400,
                "user_id": req.body["user_id"],
            }),
        ),
        ("POST", "/v1/rtc/channels/vc_general/join-ticket") => (
            200,
            serde_json::json!({
                "ticket": "ticket-1", "expires_at": 1790000000,
                "signaling_url": format!("ws://{ws_addr}/v1/rtc/signaling"),
                "channel_id": "vc_general", "server_id": "srv_harbor", "room_kind": "voice",
                "grants": {"microphone": true, "camera": false}
            }),
        ),
        _ => (
            404,
            serde_json::json!({"error": {"code": "channel_not_found", "message": "no such channel"}}),
        ),
    }
}

/// Receives the next JSON text frame (skipping control frames), with a deadline.
pub async fn next_json(ws: &mut WebSocketStream<TcpStream>) -> Option<Value> {
    let deadline = Duration::from_secs(10);
    tokio::time::timeout(deadline, async {
        while let Some(Ok(frame)) = ws.next().await {
            if let Message::Text(text) = frame {
                return serde_json::from_str(text.as_str()).ok();
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

/// Sends one JSON text frame.
pub async fn send_json(ws: &mut WebSocketStream<TcpStream>, value: Value) {
    let _ = ws.send(Message::text(value.to_string())).await;
}

/// A `joined` frame for participant `p_self` (user `carol`) with `bob` already present.
pub fn joined_frame() -> Value {
    serde_json::json!({
        "type": "joined", "protocol": 1, "participant_id": "p_self",
        "room": {"channel_id": "vc_general", "server_id": "srv_harbor", "kind": "voice"},
        "self": {"user_id": "carol", "device_id": "default", "grants": {"microphone": true}},
        "participants": [{"participant_id": "p_bob", "user_id": "bob", "device_id": "phone", "tracks": []}],
        "keepalive_interval_ms": 1000
    })
}
