//! The resource gauges on `/metrics` (what the soak samples) follow the sessions they count:
//! realtime and signaling sessions go up while open and back to zero when closed, the pool
//! stays within its maximum, and the runtime reports its tasks. On both databases.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

/// The value of gauge `name` in a Prometheus text body.
fn gauge(metrics: &str, name: &str) -> Option<u64> {
    metrics.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(' ')?;
        rest.trim().parse().ok()
    })
}

async fn gauges(s: &TestServer) -> String {
    let (status, body) = s.get("/metrics").await;
    assert_eq!(status, 200);
    body
}

/// Polls `/metrics` until `name` equals `want` (deadline 10 s).
async fn wait_gauge(s: &TestServer, name: &str, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let value = gauge(&gauges(s).await, name);
        if value == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} is {value:?}, expected {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn gauges_follow_sessions(s: &TestServer) {
    let metrics = gauges(s).await;
    let open = gauge(&metrics, "openchat_db_pool_connections")
        .unwrap_or_else(|| panic!("no pool gauge in {metrics}"));
    let idle = gauge(&metrics, "openchat_db_pool_idle_connections").expect("idle gauge");
    let in_use = gauge(&metrics, "openchat_db_pool_in_use_connections").expect("in-use gauge");
    let max = gauge(&metrics, "openchat_db_pool_max_connections").expect("max gauge");
    assert!(open >= 1 && open <= max, "open {open}, max {max}");
    assert_eq!(open, idle + in_use);
    assert!(gauge(&metrics, "openchat_runtime_alive_tasks").expect("tasks") > 0);
    assert!(gauge(&metrics, "openchat_runtime_workers").expect("workers") >= 1);
    assert!(gauge(&metrics, "openchat_runtime_global_queue_depth").is_some());
    assert_eq!(gauge(&metrics, "openchat_realtime_sessions"), Some(0));
    assert_eq!(gauge(&metrics, "openchat_signaling_live_sessions"), Some(0));

    // Two realtime sessions, then one closed politely and one dropped.
    let token = s.dev_token("gauge-user").await;
    let url = format!(
        "{}/v1/realtime?access_token={token}",
        s.base.replacen("http", "ws", 1)
    );
    let (mut first, _) = tokio_tungstenite::connect_async(&url)
        .await
        .expect("realtime connects");
    let (second, _) = tokio_tungstenite::connect_async(&url)
        .await
        .expect("realtime connects");
    wait_gauge(s, "openchat_realtime_sessions", 2).await;
    first.send(Message::Close(None)).await.expect("close");
    drop(second);
    wait_gauge(s, "openchat_realtime_sessions", 0).await;

    // A signaling session in a room, then gone.
    let ticket = s.ticket("gauge-joiner", "vc_general").await;
    let mut ws = s.ws().await;
    ws.join(&ticket).await;
    wait_gauge(s, "openchat_signaling_live_sessions", 1).await;
    drop(ws);
    wait_gauge(s, "openchat_signaling_live_sessions", 0).await;
}
on_both_databases!(resource_gauges_follow_sessions, gauges_follow_sessions);
