//! Connection limits over real sockets: header-read, keep-alive and upgrade deadlines, the
//! per-address and total caps, idle WebSockets and oversize frames (close 1009) on both WebSockets.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;

/// Upper bound for anything the server should do "at once" or after a 1-2 s deadline.
const DEADLINE: Duration = Duration::from_secs(10);

fn addr(server: &TestServer) -> SocketAddr {
    server.running.as_ref().expect("running").http_addr
}

async fn start(settings: &[(&str, &str)]) -> TestServer {
    TestServer::start_with(Db::Sqlite, settings)
        .await
        .expect("server starts")
}

/// Reads until the server closes the connection; returns what it sent and how long it took.
async fn until_closed(stream: &mut TcpStream) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(started + DEADLINE, stream.read(&mut buf)).await {
            Err(_) => panic!("the server kept the connection open for {DEADLINE:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return (received, started.elapsed()),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads `stream` until the server closes it; returns what it sent and the time since `since`.
async fn closed_since(mut stream: TcpStream, since: Instant) -> (Vec<u8>, Duration) {
    let (got, _) = until_closed(&mut stream).await;
    (got, since.elapsed())
}

/// Sends a keep-alive GET on `stream` and reads one response: (status, body).
async fn get(stream: &mut TcpStream, path: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("request written");
    let mut data = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_string();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .expect("content-length");
            if data.len() >= end + 4 + length {
                let status = head
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .expect("status");
                let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]).to_string();
                return (status, body);
            }
        }
        let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .expect("a response in time")
            .expect("read");
        assert!(n > 0, "connection closed mid-response: {data:?}");
        data.extend_from_slice(&buf[..n]);
    }
}

/// A connection from `local` (e.g. 127.0.0.2) to `to`.
async fn connect_from(local: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{local}:0").parse().expect("addr"))
        .expect("bind");
    socket.connect(to).await.expect("connect")
}

/// The value of one sample line of `/metrics` (`name{labels}` exactly as rendered).
fn metric(text: &str, sample: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{sample} not in /metrics"))
}

/// Polls `/metrics` until `sample` reaches `at_least`.
async fn metric_reaches(server: &TestServer, sample: &str, at_least: u64) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (_, text) = server.get("/metrics").await;
        let value = metric(&text, sample);
        if value >= at_least {
            return;
        }
        assert!(Instant::now() < deadline, "{sample} stayed at {value}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_half_sent_connections_are_closed_after_the_header_timeout() {
    let server = start(&[
        ("http.header_read_timeout_secs", "1"),
        ("http.keep_alive_timeout_secs", "30"),
    ])
    .await;
    let opened = Instant::now();
    let silent = TcpStream::connect(addr(&server)).await.expect("connect");
    let mut half = TcpStream::connect(addr(&server)).await.expect("connect");
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")
        .await
        .expect("half a request");
    // Both watched at once, so each close time is its own.
    let (silent_end, half_end) =
        tokio::join!(closed_since(silent, opened), closed_since(half, opened));
    for (got, after) in [silent_end, half_end] {
        assert!(got.is_empty(), "{got:?}");
        assert!(
            after >= Duration::from_millis(900),
            "closed before the deadline: {after:?}"
        );
    }
    // A complete request on a fresh connection is still served.
    let mut ok = TcpStream::connect(addr(&server)).await.expect("connect");
    assert_eq!(get(&mut ok, "/healthz").await.0, 200);
    metric_reaches(&server, "openchat_http_timeouts_total{kind=\"header\"}", 2).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_its_timeout() {
    let server = start(&[
        ("http.header_read_timeout_secs", "30"),
        ("http.keep_alive_timeout_secs", "1"),
    ])
    .await;
    let mut conn = TcpStream::connect(addr(&server)).await.expect("connect");
    assert_eq!(get(&mut conn, "/healthz").await.0, 200);
    // Kept alive: a second request on the same connection.
    assert_eq!(get(&mut conn, "/healthz").await.0, 200);
    let (rest, after) = until_closed(&mut conn).await;
    assert!(rest.is_empty());
    assert!(
        after >= Duration::from_millis(800) && after < Duration::from_secs(30),
        "closed after {after:?}, not by the 1 s keep-alive timeout"
    );
    metric_reaches(
        &server,
        "openchat_http_timeouts_total{kind=\"keep_alive\"}",
        1,
    )
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_request_not_answered_in_time_is_closed() {
    let server = start(&[
        ("http.header_read_timeout_secs", "30"),
        ("http.keep_alive_timeout_secs", "30"),
        ("http.ws_upgrade_timeout_secs", "1"),
    ])
    .await;
    // The head asks for an upgrade; the handler waits for a body that never comes, so no 101
    // (nor any answer) is sent.
    let opened = Instant::now();
    let mut conn = TcpStream::connect(addr(&server)).await.expect("connect");
    conn.write_all(
        b"POST /v1/dev/token HTTP/1.1\r\nHost: test\r\nConnection: upgrade\r\n\
          Upgrade: websocket\r\ncontent-type: application/json\r\ncontent-length: 40\r\n\r\n{",
    )
    .await
    .expect("request head");
    let (got, after) = closed_since(conn, opened).await;
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_secs(30),
        "closed after {after:?}, not by the 1 s upgrade deadline"
    );
    metric_reaches(
        &server,
        "openchat_http_timeouts_total{kind=\"ws_upgrade\"}",
        1,
    )
    .await;
    // A real upgrade is answered well within the deadline and lives on.
    let mut ws = ws_connect(&server.ws_url()).await;
    ws.send(Message::text(r#"{"type":"ping"}"#))
        .await
        .expect("sent");
    assert!(next_text(&mut ws).await.is_some());
    server.stop().await;
}

/// Asserts that `stream` is refused: a 503 `too_many_connections` (when it arrives before the
/// close) and a close, both at once.
async fn assert_refused(stream: &mut TcpStream) {
    let (got, after) = until_closed(stream).await;
    assert!(after < Duration::from_secs(2), "refusal took {after:?}");
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.is_empty()
            || (text.starts_with("HTTP/1.1 503") && text.contains("too_many_connections")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_address_cap_refuses_extra_connections_from_that_address_only() {
    let server = start(&[
        ("http.max_connections_per_ip", "3"),
        ("http.header_read_timeout_secs", "30"),
    ])
    .await;
    let to = addr(&server);
    let _a = TcpStream::connect(to).await.expect("a");
    let b = TcpStream::connect(to).await.expect("b");
    // The third connection of the budget answers.
    let mut c = TcpStream::connect(to).await.expect("c");
    assert_eq!(get(&mut c, "/healthz").await.0, 200);
    let mut d = TcpStream::connect(to).await.expect("d");
    assert_refused(&mut d).await;
    // Another address is not affected.
    let mut e = connect_from("127.0.0.2", to).await;
    assert_eq!(get(&mut e, "/healthz").await.0, 200);
    let (_, text) = get(&mut e, "/metrics").await;
    assert_eq!(
        metric(
            &text,
            "openchat_http_connections_refused_total{reason=\"per_ip_limit\"}"
        ),
        1
    );
    assert_eq!(metric(&text, "openchat_http_connections"), 4);
    // A closed connection frees its slot.
    drop(b);
    let deadline = Instant::now() + DEADLINE;
    loop {
        let mut again = TcpStream::connect(to).await.expect("connect");
        let request = again
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            .await;
        let mut buf = [0u8; 12];
        if request.is_ok()
            && again.read_exact(&mut buf).await.is_ok()
            && buf.starts_with(b"HTTP/1.1 200")
        {
            break;
        }
        assert!(Instant::now() < deadline, "the slot was never freed");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_total_cap_refuses_extra_connections_from_any_address() {
    let server = start(&[
        ("http.max_connections", "3"),
        ("http.max_connections_per_ip", "0"),
        ("http.header_read_timeout_secs", "30"),
    ])
    .await;
    let to = addr(&server);
    let _a = TcpStream::connect(to).await.expect("a");
    let _b = connect_from("127.0.0.2", to).await;
    let mut c = TcpStream::connect(to).await.expect("c");
    assert_eq!(get(&mut c, "/healthz").await.0, 200);
    let mut d = TcpStream::connect(to).await.expect("d");
    assert_refused(&mut d).await;
    let mut e = connect_from("127.0.0.3", to).await;
    assert_refused(&mut e).await;
    let (status, text) = get(&mut c, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(
        metric(
            &text,
            "openchat_http_connections_refused_total{reason=\"total_limit\"}"
        ),
        2
    );
    server.stop().await;
}

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws_connect(url: &str) -> Client {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("WebSocket connects")
        .0
}

async fn realtime(server: &TestServer, user: &str) -> Client {
    let token = server.dev_token(user).await;
    let url = format!(
        "{}/v1/realtime?access_token={token}",
        server.base.replacen("http", "ws", 1)
    );
    let mut ws = ws_connect(&url).await;
    loop {
        let frame = next_text(&mut ws).await.expect("ready before close");
        if frame["type"] == "ready" {
            return ws;
        }
    }
}

/// The next JSON text frame, or `None` at a close.
async fn next_text(ws: &mut Client) -> Option<serde_json::Value> {
    loop {
        match tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("a frame in time")
        {
            Some(Ok(Message::Text(t))) => return Some(serde_json::from_str(&t).expect("JSON")),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

/// Sends `message` (the server may close while it is still being written) and returns the
/// close frame the server sent, with the text frames before it.
async fn send_until_close(ws: Client, message: Message) -> (Vec<serde_json::Value>, CloseFrame) {
    let (mut tx, mut rx) = ws.split();
    let writer = tokio::spawn(async move {
        let _ = tx.send(message).await;
        tx
    });
    let mut texts = Vec::new();
    let close = loop {
        match tokio::time::timeout(DEADLINE, rx.next())
            .await
            .expect("a close in time")
        {
            Some(Ok(Message::Close(Some(frame)))) => break frame,
            Some(Ok(Message::Text(t))) => texts.push(serde_json::from_str(&t).expect("JSON")),
            Some(Ok(Message::Close(None))) => panic!("a close without a code"),
            Some(Ok(_)) => {}
            other => panic!("no close frame: {other:?}"),
        }
    };
    let _ = writer.await;
    (texts, close)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_frames_are_answered_with_1009_on_both_websockets() {
    let server = start(&[]).await;
    // The signaling limit follows the room size (100 participants by default); realtime's is 64 KiB.
    let limit = signaling::ws::protocol::max_frame_bytes(100);
    let big_text = || Message::text("x".repeat(limit + 1));
    let big_binary = || Message::binary(vec![7u8; limit + 1]);

    for message in [big_text(), big_binary()] {
        let ws = ws_connect(&server.ws_url()).await;
        let (_, close) = send_until_close(ws, message).await;
        assert_eq!(u16::from(close.code), 1009);
        assert_eq!(
            close.reason.as_str(),
            format!("frame exceeds {limit} bytes")
        );
    }
    // A frame of exactly the limit is read (and refused as a bad message), not closed.
    let mut ws = ws_connect(&server.ws_url()).await;
    ws.send(Message::text("x".repeat(limit)))
        .await
        .expect("sent");
    let frame = next_text(&mut ws).await.expect("an error frame");
    assert_eq!(frame["code"], "invalid_message");

    for message in [
        Message::binary(vec![7u8; 65_537]),
        Message::text("x".repeat(1 << 20)),
    ] {
        let ws = realtime(&server, "olga").await;
        let (_, close) = send_until_close(ws, message).await;
        assert_eq!(u16::from(close.code), 1009);
        assert_eq!(close.reason.as_str(), "frame exceeds 65536 bytes");
    }
    for socket in ["signaling", "realtime"] {
        metric_reaches(
            &server,
            &format!(
                "openchat_ws_server_closes_total{{socket=\"{socket}\",cause=\"message_too_big\"}}"
            ),
            2,
        )
        .await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_websockets_are_closed_and_answering_ones_kept() {
    let server = start(&[
        ("http.ws_ping_interval_secs", "1"),
        ("http.ws_idle_timeout_secs", "2"),
    ])
    .await;
    // Not polled: the client library cannot answer pings.
    let mut silent_realtime = realtime(&server, "sid").await;
    let mut silent_signaling = ws_connect(&server.ws_url()).await;
    // Polled: pongs go back by themselves; it must outlive the idle bound.
    let answering = realtime(&server, "ann").await;
    let watcher = tokio::spawn(async move {
        let mut ws = answering;
        let mut pings = 0;
        let until = Instant::now() + Duration::from_secs(4);
        loop {
            match tokio::time::timeout_at(until, ws.next()).await {
                Err(_) => return (pings, ws),
                Ok(Some(Ok(Message::Ping(_)))) => pings += 1,
                Ok(Some(Ok(Message::Close(frame)))) => panic!("closed: {frame:?}"),
                Ok(Some(Ok(_))) => {}
                Ok(other) => panic!("socket ended: {other:?}"),
            }
        }
    });
    metric_reaches(&server, "openchat_http_timeouts_total{kind=\"ws_idle\"}", 2).await;
    for (ws, error_frame) in [
        (&mut silent_realtime, r#""code":"idle_timeout""#),
        (&mut silent_signaling, r#""fatal":true"#),
    ] {
        let mut texts = Vec::new();
        let close = loop {
            match tokio::time::timeout(DEADLINE, ws.next())
                .await
                .expect("frames in time")
            {
                Some(Ok(Message::Close(Some(frame)))) => break frame,
                Some(Ok(Message::Text(t))) => texts.push(t.to_string()),
                Some(Ok(Message::Ping(_))) => {}
                other => panic!("unexpected {other:?}"),
            }
        };
        assert_eq!(u16::from(close.code), 4000);
        assert_eq!(close.reason.as_str(), "idle_timeout");
        assert!(
            texts
                .iter()
                .any(|t| t.contains("idle_timeout") && t.contains(error_frame)),
            "{texts:?}"
        );
    }
    let (pings, _ws) = watcher.await.expect("watcher");
    assert!(pings >= 2, "{pings} pings in 4 s");
    server.stop().await;
}
