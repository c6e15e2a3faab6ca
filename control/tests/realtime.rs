//! Realtime fanout through the outbox, on SQLite and PostgreSQL: live delivery bound to
//! membership, resume after reconnect, two control instances on one database, and the real
//! WebSocket route.

mod chat;
mod common;

use std::collections::HashSet;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use chat::{CHANNEL, Client, DEADLINE, commit, dev, event_ids, send, setup_with_group};
use control::{Caller, Control, ControlOptions, HistoryDirection, HistoryQuery};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message as WsMessage;

on_both_databases! {
    live_events_follow_membership => prod,
    resume_after_reconnect_misses_nothing => prod,
    websocket_route_end_to_end => prod,
}

async fn live_events_follow_membership(ctl: Control) {
    setup_with_group(&ctl).await;
    let mut alice = Client::connect(&ctl, dev("alice", "laptop"), None);
    let mut bob = Client::connect(&ctl, dev("bob", "laptop"), None);
    let mut carol = Client::connect(&ctl, dev("carol", "laptop"), None);
    for client in [&mut alice, &mut bob, &mut carol] {
        client.ready().await;
    }
    let sent = send(&ctl, &dev("alice", "laptop"), "hello", 2)
        .await
        .expect("send")
        .message;
    for client in [&mut alice, &mut bob] {
        let event = client.next_event("message_created").await;
        assert_eq!(event["data"]["message"]["id"], sent.id.as_str());
        assert_eq!(event["data"]["channel_id"], CHANNEL);
    }
    // Typing reaches the other members.
    bob.say(r#"{"type":"typing","channel_id":"tc_chat"}"#);
    let typing = alice.next_event("typing").await;
    assert_eq!(typing["data"]["user_id"], "bob");
    assert!(
        typing.get("id").is_none(),
        "live-only: no resume id {typing}"
    );
    // carol joins: she gets the commit, but never the message sent before she joined.
    commit(
        &ctl,
        &dev("alice", "laptop"),
        2,
        &[dev("carol", "laptop")],
        &[],
    )
    .await
    .expect("add carol");
    let mut before_commit = Vec::new();
    loop {
        let frame = carol.next().await;
        if frame["kind"] == "membership_committed" {
            assert_eq!(frame["data"]["epoch"], 3);
            break;
        }
        before_commit.push(frame);
    }
    assert!(
        before_commit
            .iter()
            .all(|f| f["kind"] != "message_created" && f["kind"] != "typing"),
        "{before_commit:?}"
    );
    assert_eq!(carol.next_event("epoch_advanced").await["data"]["epoch"], 3);
    assert_eq!(bob.next_event("epoch_advanced").await["data"]["epoch"], 3);
    // Pings are answered; garbage gets an error frame.
    alice.say(r#"{"type":"ping"}"#);
    loop {
        if alice.next().await["type"] == "pong" {
            break;
        }
    }
    alice.say("nonsense");
    loop {
        let frame = alice.next().await;
        if frame["type"] == "error" {
            assert_eq!(frame["code"], "invalid_message");
            break;
        }
    }
    for client in [alice, bob, carol] {
        client.close().await;
    }
    assert_eq!(ctl.testing_realtime_sessions(), 0);
}

/// Message ids the device can read, in order.
async fn history_ids(ctl: &Control, user: &str, device: &str) -> Vec<String> {
    let query = HistoryQuery {
        cursor: None,
        limit: Some(200),
        direction: HistoryDirection::Forward,
    };
    ctl.history(&dev(user, device), CHANNEL, query)
        .await
        .expect("history")
        .messages
        .into_iter()
        .map(|m| m.id)
        .collect()
}

fn message_ids(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f["kind"] == "message_created")
        .filter_map(|f| f["data"]["message"]["id"].as_str().map(str::to_owned))
        .collect()
}

async fn resume_after_reconnect_misses_nothing(ctl: Control) {
    setup_with_group(&ctl).await;
    let alice = dev("alice", "laptop");
    let mut bob = Client::connect(&ctl, dev("bob", "laptop"), None);
    bob.ready().await;
    // A sender keeps sending while bob disconnects and comes back.
    let sender = {
        let ctl = ctl.clone();
        let alice = alice.clone();
        tokio::spawn(async move {
            for i in 0..40 {
                send(&ctl, &alice, &format!("m{i}"), 2).await.expect("send");
                tokio::task::yield_now().await;
            }
        })
    };
    let mut first = Vec::new();
    while message_ids(&first).len() < 5 {
        first.push(bob.next().await);
    }
    first.extend(bob.close().await);
    let last = *event_ids(&first).last().expect("events");

    let mut bob = Client::connect(&ctl, dev("bob", "laptop"), Some(last));
    let (ready_at, mut second) = bob.ready().await;
    assert!(ready_at >= last);
    sender.await.expect("sender");
    send(&ctl, &alice, "after", 2).await.expect("send");
    while message_ids(&second).len() + message_ids(&first).len() < 41 {
        second.push(bob.next().await);
    }
    bob.close().await;

    let ids: Vec<i64> = event_ids(&first)
        .into_iter()
        .chain(event_ids(&second))
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicates: {ids:?}"
    );
    let received: Vec<String> = message_ids(&first)
        .into_iter()
        .chain(message_ids(&second))
        .collect();
    assert_eq!(received, history_ids(&ctl, "bob", "laptop").await);
    // Resuming from 0 replays everything bob may see, but no typing or presence.
    let mut replay = Client::connect(&ctl, dev("bob", "laptop"), Some(0));
    let (_, replayed) = replay.ready().await;
    assert_eq!(message_ids(&replayed), received);
    assert!(
        replayed
            .iter()
            .all(|f| f["kind"] != "presence" && f["kind"] != "typing")
    );
    // carol (not in the group) resumes from 0 and sees no message.
    let mut carol = Client::connect(&ctl, dev("carol", "laptop"), Some(0));
    let (_, replayed) = carol.ready().await;
    assert!(message_ids(&replayed).is_empty(), "{replayed:?}");
    replay.close().await;
    carol.close().await;
}

/// Inserts a `Caller` from `?user=&device=`, standing in for signaling's auth middleware.
async fn query_auth(mut request: Request, next: Next) -> Response {
    let query = request.uri().query().unwrap_or("").to_owned();
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
            .map(str::to_owned)
    };
    if let (Some(user_id), Some(device_id)) = (param("user"), param("device")) {
        let caller = Caller {
            user_id: user_id.parse().expect("user id"),
            device_id: device_id.parse().expect("device id"),
        };
        request.extensions_mut().insert(caller);
    }
    next.run(request).await
}

async fn serve(ctl: &Control) -> std::net::SocketAddr {
    let app = ctl.router().layer(axum::middleware::from_fn(query_auth));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("a frame before the deadline")
            .expect("open")
            .expect("frame");
        if let WsMessage::Text(text) = frame {
            return serde_json::from_str(&text).expect("JSON");
        }
    }
}

async fn websocket_route_end_to_end(ctl: Control) {
    setup_with_group(&ctl).await;
    let addr = serve(&ctl).await;
    let url = format!("ws://{addr}/v1/realtime?user=bob&device=laptop");
    let (mut ws, _) = tokio_tungstenite::connect_async(&url)
        .await
        .expect("connect");
    let ready = next_json(&mut ws).await;
    assert_eq!(ready["type"], "ready");
    let sent = send(&ctl, &dev("alice", "laptop"), "ws-1", 2)
        .await
        .expect("send")
        .message;
    let event = loop {
        let frame = next_json(&mut ws).await;
        if frame["kind"] == "message_created" {
            break frame;
        }
    };
    assert_eq!(event["data"]["message"]["id"], sent.id.as_str());
    let last = event["id"].as_i64().expect("id");
    ws.send(WsMessage::Text(r#"{"type":"ping"}"#.into()))
        .await
        .expect("ping");
    while next_json(&mut ws).await["type"] != "pong" {}
    ws.close(None).await.expect("close");

    let missed = send(&ctl, &dev("alice", "laptop"), "ws-2", 2)
        .await
        .expect("send")
        .message;
    let url = format!("{url}&last_event_id={last}");
    let (mut ws, _) = tokio_tungstenite::connect_async(&url)
        .await
        .expect("reconnect");
    let first = next_json(&mut ws).await;
    assert_eq!(first["kind"], "message_created", "{first}");
    assert_eq!(first["data"]["message"]["id"], missed.id.as_str());
    assert_eq!(next_json(&mut ws).await["type"], "ready");

    // Without a caller: 401; without an upgrade: 400 with the JSON error shape.
    let client = reqwest_like_get(addr, "/v1/realtime").await;
    assert!(client.starts_with("HTTP/1.1 401"), "{client}");
    let client = reqwest_like_get(addr, "/v1/realtime?user=bob&device=laptop").await;
    assert!(client.starts_with("HTTP/1.1 400"), "{client}");
    assert!(client.contains("websocket_required"), "{client}");
}

/// A plain HTTP/1.1 GET over TCP; returns the raw response.
async fn reqwest_like_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    tokio::time::timeout(DEADLINE, stream.read_to_string(&mut response))
        .await
        .expect("response before the deadline")
        .expect("read");
    response
}

/// Two control instances (as two openchatd processes would hold) on one database: a session on
/// one receives what the other commits.
async fn two_instances(first: Control, second: Control) {
    setup_with_group(&first).await;
    let mut bob = Client::connect(&second, dev("bob", "laptop"), None);
    bob.ready().await;
    let sent = send(&first, &dev("alice", "laptop"), "cross", 2)
        .await
        .expect("send")
        .message;
    let event = bob.next_event("message_created").await;
    assert_eq!(event["data"]["message"]["id"], sent.id.as_str());
    commit(
        &first,
        &dev("alice", "laptop"),
        2,
        &[dev("carol", "laptop")],
        &[],
    )
    .await
    .expect("commit");
    assert_eq!(bob.next_event("epoch_advanced").await["data"]["epoch"], 3);
    // And the other way round.
    let mut alice = Client::connect(&first, dev("alice", "laptop"), None);
    alice.ready().await;
    let sent = send(&second, &dev("bob", "laptop"), "back", 3)
        .await
        .expect("send")
        .message;
    let event = alice.next_event("message_created").await;
    assert_eq!(event["data"]["message"]["id"], sent.id.as_str());
    let frames = bob.close().await;
    let ids: HashSet<i64> = event_ids(&frames).into_iter().collect();
    assert_eq!(ids.len(), event_ids(&frames).len(), "no duplicates");
    alice.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_database() {
    let Some((first, guard)) = control::testing::postgres_fresh().await else {
        return;
    };
    let second = Control::connect(guard.database_url(), ControlOptions::default())
        .await
        .expect("second instance");
    two_instances(first.clone(), second.clone()).await;
    first.close().await;
    second.close().await;
    guard.cleanup().await;
}

/// Two control instances (as two openchatd processes) on one fresh PostgreSQL database.
async fn two_postgres_instances() -> Option<(Control, Control, control::testing::PgDbGuard)> {
    let (first, guard) = control::testing::postgres_fresh().await?;
    let second = Control::connect(guard.database_url(), ControlOptions::default())
        .await
        .expect("second instance");
    Some((first, second, guard))
}

/// The next `presence` event about `user` (a user also sees their own).
async fn next_presence_of(client: &mut Client, user: &str) -> Value {
    loop {
        let event = client.next_event("presence").await;
        if event["data"]["user_id"] == user {
            return event;
        }
    }
}

/// Typing and presence cross instances on PostgreSQL without the outbox: no row is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_only_events_cross_instances_without_the_outbox() {
    let Some((first, second, guard)) = two_postgres_instances().await else {
        return;
    };
    setup_with_group(&first).await;
    let pool = sqlx::PgPool::connect(guard.database_url())
        .await
        .expect("pool");
    let outbox_rows = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM outbox")
            .fetch_one(&pool)
            .await
            .expect("count")
    };
    let mut alice = Client::connect(&first, dev("alice", "laptop"), None);
    alice.ready().await;
    let rows = outbox_rows().await;
    // bob's first session on the other instance: alice sees him come online, then type.
    let mut bob = Client::connect(&second, dev("bob", "laptop"), None);
    bob.ready().await;
    let online = next_presence_of(&mut alice, "bob").await;
    assert_eq!(online["data"]["status"], "online");
    bob.say(r#"{"type":"typing","channel_id":"tc_chat"}"#);
    let typing = alice.next_event("typing").await;
    assert_eq!(typing["data"]["device_id"], "laptop");
    assert!(typing.get("id").is_none(), "{typing}");
    bob.close().await;
    let offline = next_presence_of(&mut alice, "bob").await;
    assert_eq!(offline["data"]["status"], "offline");
    assert_eq!(
        outbox_rows().await,
        rows,
        "live-only events write no outbox row"
    );
    alice.close().await;
    pool.close().await;
    first.close().await;
    second.close().await;
    guard.cleanup().await;
}

/// Stopping joins every background task (none needs aborting), is idempotent, and loses nothing:
/// what one instance commits after it stopped still reaches the other's sessions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_joins_the_background_tasks() {
    let Some((first, second, guard)) = two_postgres_instances().await else {
        return;
    };
    setup_with_group(&first).await;
    first.start_background();
    let mut bob = Client::connect(&second, dev("bob", "laptop"), None);
    bob.ready().await;
    let before = send(&first, &dev("alice", "laptop"), "before", 2)
        .await
        .expect("send")
        .message;
    let stopped = first.stop_background().await;
    assert_eq!(
        stopped,
        control::BackgroundStopped {
            joined: 3,
            aborted: 0
        },
        "dispatcher, LISTEN and notifier on PostgreSQL"
    );
    assert_eq!(
        first.stop_background().await,
        control::BackgroundStopped::default()
    );
    let after = send(&first, &dev("alice", "laptop"), "after", 2)
        .await
        .expect("a stopped instance still writes")
        .message;
    for id in [before.id, after.id] {
        let event = bob.next_event("message_created").await;
        assert_eq!(event["data"]["message"]["id"], id.as_str());
    }
    bob.close().await;
    let stopped = second.stop_background().await;
    assert_eq!(stopped.aborted, 0);
    first.close().await;
    second.close().await;
    guard.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_sqlite_file() {
    let (first, guard) = control::testing::sqlite_temp().await;
    let second = Control::connect(guard.database_url(), ControlOptions::default())
        .await
        .expect("second instance");
    two_instances(first, second).await;
}
