//! SIGTERM to a real `openchatd` process: with a half-sent request, a signaling session, a
//! realtime session and an `rtc-joiner` in a room open, every WebSocket is closed with 1001
//! (signaling after a `going_away` frame), the half-sent request is dropped at once, a request
//! in flight still gets its answer, the joiner ends its run cleanly (status 0, stop reason
//! `server_going_away`), and openchatd exits 0 within the grace.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::joiner::JoinerProcess;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;

const GRACE_SECS: u64 = 5;
const DEADLINE: Duration = Duration::from_secs(20);

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Starts openchatd on ephemeral ports; returns the child and its HTTP address.
async fn openchatd(data_dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_openchatd"))
        .args(["serve", "--listen", "127.0.0.1:0", "--media-port", "0"])
        .args(["--log-level", "warn", "--data-dir"])
        .arg(data_dir)
        .args(["--set", &format!("http.shutdown_grace_secs={GRACE_SECS}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("openchatd starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = tokio::time::timeout(DEADLINE, async {
        while let Some(line) = lines.next_line().await.expect("stdout line") {
            if let Some(rest) = line.strip_prefix("openchatd listening on http://") {
                return rest.split_whitespace().next().map(str::to_string);
            }
        }
        None
    })
    .await
    .expect("openchatd ready in time")
    .expect("a listening line");
    // Keep draining stdout so the child never blocks on it.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr)
}

async fn post(base: &str, path: &str, token: Option<&str>, body: Value) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.expect("JSON body")
}

async fn token(base: &str, user: &str) -> String {
    let body = post(base, "/v1/dev/token", None, json!({"user_id": user})).await;
    body["access_token"].as_str().expect("token").to_string()
}

async fn next_json(ws: &mut Client) -> Value {
    loop {
        match tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("a frame in time")
        {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).expect("JSON"),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Reads until the close frame; returns the text frames before it and the close frame. Reads
/// on to the end so the close handshake completes.
async fn until_close(ws: &mut Client) -> (Vec<Value>, CloseFrame) {
    let mut texts = Vec::new();
    let close = loop {
        match tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("frames in time")
        {
            Some(Ok(Message::Text(t))) => texts.push(serde_json::from_str(&t).expect("JSON")),
            Some(Ok(Message::Close(Some(frame)))) => break frame,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    while let Ok(Some(Ok(_))) = tokio::time::timeout(DEADLINE, ws.next()).await {}
    (texts, close)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_websockets_with_1001_and_exits_0_within_the_grace() {
    let data = tempfile::tempdir().expect("tempdir");
    let (mut child, addr) = openchatd(data.path()).await;
    let base = format!("http://{addr}");
    let ws_base = format!("ws://{addr}");

    // A realtime session.
    let rita = token(&base, "rita").await;
    let (mut realtime, _) =
        tokio_tungstenite::connect_async(format!("{ws_base}/v1/realtime?access_token={rita}"))
            .await
            .expect("realtime connects");
    assert_eq!(next_json(&mut realtime).await["type"], "ready");

    // A signaling session in vc_general.
    let sam = token(&base, "sam").await;
    let ticket = post(
        &base,
        "/v1/rtc/channels/vc_general/join-ticket",
        Some(&sam),
        json!({}),
    )
    .await["ticket"]
        .as_str()
        .expect("ticket")
        .to_string();
    let (mut signaling, _) =
        tokio_tungstenite::connect_async(format!("{ws_base}/v1/rtc/signaling"))
            .await
            .expect("signaling connects");
    signaling
        .send(Message::text(
            json!({"type": "join", "protocol": 1, "ticket": ticket}).to_string(),
        ))
        .await
        .expect("join sent");
    assert_eq!(next_json(&mut signaling).await["type"], "joined");

    // An rtc-joiner in the same room; it has joined once sam sees it.
    let joiner = JoinerProcess::spawn(
        "joe",
        &base,
        &[
            "--channel-id",
            "vc_general",
            "--user",
            "joe",
            "--duration",
            "60",
        ],
    );
    loop {
        let frame = next_json(&mut signaling).await;
        if frame["type"] == "participant_joined" && frame["participant"]["user_id"] == "joe" {
            break;
        }
    }

    // A request that never finishes its head.
    let mut half = TcpStream::connect(&addr).await.expect("connect");
    half.write_all(b"POST /v1/dev/token HTTP/1.1\r\nHost: test\r\n")
        .await
        .expect("half a request");

    // A request in flight: its head is read and its handler waits for the body (hyper sends
    // `100 Continue` when the handler starts reading it).
    let body = br#"{"user_id":"ivy"}"#;
    let mut in_flight = TcpStream::connect(&addr).await.expect("connect");
    in_flight
        .write_all(
            format!(
                "POST /v1/dev/token HTTP/1.1\r\nHost: test\r\ncontent-type: application/json\r\n\
                 expect: 100-continue\r\ncontent-length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .expect("request head");
    let mut continued = Vec::new();
    while !continued.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(DEADLINE, in_flight.read(&mut byte))
            .await
            .expect("100 Continue in time")
            .expect("read");
        assert_eq!(n, 1, "closed before 100 Continue: {continued:?}");
        continued.push(byte[0]);
    }
    assert!(continued.starts_with(b"HTTP/1.1 100"), "{continued:?}");

    let pid = child.id().expect("pid").to_string();
    let signalled = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(kill.success());

    let (texts, close) = until_close(&mut signaling).await;
    assert_eq!(
        texts.last(),
        Some(&json!({"type": "going_away", "reason": "shutdown", "reconnect": true})),
        "{texts:?}"
    );
    assert_eq!(u16::from(close.code), 1001);
    assert_eq!(close.reason.as_str(), "shutdown");

    let (texts, close) = until_close(&mut realtime).await;
    assert!(texts.iter().all(|t| t["type"] == "event"), "{texts:?}");
    assert_eq!(u16::from(close.code), 1001);
    assert_eq!(close.reason.as_str(), "shutdown");

    // The stop is under way (the sockets are closed): the request in flight still finishes.
    in_flight.write_all(body).await.expect("request body");
    let mut response = Vec::new();
    tokio::time::timeout(DEADLINE, in_flight.read_to_end(&mut response))
        .await
        .expect("a response and a close in time")
        .expect("read");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("access_token"), "{response}");
    assert!(
        response.to_ascii_lowercase().contains("connection: close"),
        "{response}"
    );

    let mut rest = Vec::new();
    let dropped = tokio::time::timeout(Duration::from_secs(2), half.read_to_end(&mut rest)).await;
    assert!(
        matches!(dropped, Ok(Ok(0)) | Ok(Err(_))),
        "the half-sent request was not dropped at once: {dropped:?} {rest:?}"
    );

    let status = tokio::time::timeout(Duration::from_secs(GRACE_SECS + 3), child.wait())
        .await
        .expect("openchatd exits within the grace")
        .expect("exit status");
    assert_eq!(status.code(), Some(0), "openchatd exit status");
    assert!(signalled.elapsed() < Duration::from_secs(GRACE_SECS + 3));

    let (ok, stdout, stderr) =
        tokio::task::spawn_blocking(move || joiner.wait(Duration::from_secs(20)))
            .await
            .expect("joiner waited");
    assert!(ok, "rtc-joiner exit status\n{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(stdout.trim()).expect("a JSON summary");
    assert_eq!(summary["stop_reason"], "server_going_away", "{summary}");
}
