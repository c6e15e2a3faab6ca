//! One realtime session, generic over its transport (a WebSocket in production, channels in
//! tests).
//!
//! Server frames (JSON text): `ready {last_event_id}` once replay is done, `event {id, kind,
//! created_at, data}` (no `id` for live-only kinds), `pong`, `error {code, message}`, and `resync {reason, last_event_id}`
//! just before the server closes a lagging session. Client frames: `ping`, and
//! `typing {channel_id}` (at most one per channel every 2 s is forwarded).

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;

use super::event::{fetch_after, last_event_id};
use crate::Control;
use crate::epochs::DeviceRef;

/// Invalid client frames tolerated before the session is closed.
const MAX_INVALID_FRAMES: u32 = 20;

/// Minimum time between two forwarded typing notices for one channel.
const TYPING_INTERVAL: Duration = Duration::from_secs(2);

/// Most queued events written before one flush.
const SEND_BATCH: usize = 256;

/// Replay page size.
const REPLAY_BATCH: i64 = 512;

/// A frame received from the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientInput {
    /// A text frame.
    Text(String),
    /// A binary frame (always invalid).
    Binary,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientFrame {
    Ping,
    Typing { channel_id: String },
}

/// Decodes one client text frame as a session does (the same type, the same decoder); `Ok`
/// names the frame (`ping` or `typing`). For the fuzz targets (feature `fuzzing`).
#[cfg(feature = "fuzzing")]
pub fn decode_client_frame(text: &str) -> Result<&'static str, serde_json::Error> {
    serde_json::from_str::<ClientFrame>(text).map(|frame| match frame {
        ClientFrame::Ping => "ping",
        ClientFrame::Typing { .. } => "typing",
    })
}

/// Why a session loop ended.
enum End {
    /// The client went away (stream ended or a send failed).
    Gone,
    /// The server closes the session (after telling the client).
    Closed,
}

/// Runs a session for `device` until the client leaves. With `resume_after`, every event after
/// that id addressed to the device is replayed first (typing and presence excepted); then live
/// events follow, in outbox order, each exactly once.
pub async fn run_session<Tx, Rx>(
    control: Control,
    device: DeviceRef,
    resume_after: Option<i64>,
    mut tx: Tx,
    mut rx: Rx,
) where
    Tx: Sink<String> + Unpin,
    Rx: Stream<Item = ClientInput> + Unpin,
{
    control.start_background();
    let (mut subscription, first) = control.hub.subscribe(device.clone());
    // Registered first: a revocation committed from now on ends this session through the
    // dispatcher; one committed before is seen here.
    if let Err(e) = control
        .authorize_device(&device.user_id, &device.device_id)
        .await
    {
        let frame = json!({"type": "error", "code": e.code(), "message": e.to_string()});
        let _ = tx.send(frame.to_string()).await;
        let _ = tx.close().await;
        return;
    }
    if first {
        control.emit_presence(&device.user_id, "online").await;
    }
    let end = session_loop(
        &control,
        &device,
        resume_after,
        &mut subscription,
        &mut tx,
        &mut rx,
    )
    .await;
    if matches!(end, End::Closed) {
        let _ = tx.close().await;
    }
    if subscription.close() {
        control.emit_presence(&device.user_id, "offline").await;
    }
}

async fn session_loop<Tx, Rx>(
    control: &Control,
    device: &DeviceRef,
    resume_after: Option<i64>,
    subscription: &mut super::hub::Subscription,
    tx: &mut Tx,
    rx: &mut Rx,
) -> End
where
    Tx: Sink<String> + Unpin,
    Rx: Stream<Item = ClientInput> + Unpin,
{
    // Registered before this: every event after the dispatcher's start reaches us live, and our
    // own position (read below) is at or after the dispatcher's start.
    control.hub.dispatching().await;
    let start = match resume_after {
        Some(after) => replay(control, device, after, tx).await,
        None => last_event_id(control.pool()).await.map_err(Some),
    };
    let mut position = match start {
        Ok(position) => position,
        Err(None) => return End::Gone,
        Err(Some(e)) => {
            tracing::warn!(error = %e, "realtime replay failed");
            let frame = json!({"type": "error", "code": "internal", "message": "internal error"});
            let _ = tx.send(frame.to_string()).await;
            return End::Closed;
        }
    };
    let ready = json!({"type": "ready", "last_event_id": position});
    if tx.send(ready.to_string()).await.is_err() {
        return End::Gone;
    }

    let mut invalid = 0;
    let mut typing_sent: HashMap<String, Instant> = HashMap::new();
    loop {
        tokio::select! {
            event = subscription.rx.recv() => match event {
                Some(event) => {
                    // Write everything already queued, then flush once (one syscall per batch).
                    let mut next = Some(event);
                    let mut fed = 0;
                    while let Some(event) = next.take() {
                        // Id 0: a live-only event (typing, presence), not a resume position.
                        let live_only = event.id == 0;
                        if live_only || event.id > position {
                            if tx.feed(event.frame.to_string()).await.is_err() {
                                return End::Gone;
                            }
                            if !live_only {
                                position = event.id;
                            }
                        }
                        fed += 1;
                        if fed < SEND_BATCH {
                            next = subscription.rx.try_recv().ok();
                        }
                    }
                    if tx.flush().await.is_err() {
                        return End::Gone;
                    }
                }
                None => {
                    let frame = match subscription.ended() {
                        Some(end) => json!({"type": "error", "code": end.code,
                                            "message": end.message}),
                        None => json!({"type": "resync", "reason": "lagged",
                                       "last_event_id": position}),
                    };
                    let _ = tx.send(frame.to_string()).await;
                    return End::Closed;
                }
            },
            input = rx.next() => {
                let frame = match input {
                    None => return End::Gone,
                    Some(ClientInput::Text(text)) => serde_json::from_str::<ClientFrame>(&text),
                    Some(ClientInput::Binary) => serde_json::from_str::<ClientFrame>("binary"),
                };
                let reply = match frame {
                    Ok(ClientFrame::Ping) => Some(json!({"type": "pong"})),
                    Ok(ClientFrame::Typing { channel_id }) => {
                        let now = Instant::now();
                        let recent = typing_sent
                            .get(&channel_id)
                            .is_some_and(|at| now.duration_since(*at) < TYPING_INTERVAL);
                        if !recent {
                            typing_sent.insert(channel_id.clone(), now);
                            if let Err(e) = control.emit_typing(device, &channel_id).await {
                                tracing::warn!(error = %e, "cannot record typing");
                            }
                        }
                        None
                    }
                    Err(e) => {
                        invalid += 1;
                        Some(json!({"type": "error", "code": "invalid_message",
                                    "message": e.to_string()}))
                    }
                };
                if let Some(reply) = reply
                    && tx.send(reply.to_string()).await.is_err()
                {
                    return End::Gone;
                }
                if invalid > MAX_INVALID_FRAMES {
                    return End::Closed;
                }
            }
        }
    }
}

/// Sends every stored, non-ephemeral event after `after` addressed to `device`; returns the
/// position reached. `Err(None)`: the client went away; `Err(Some(e))`: the database failed.
async fn replay<Tx>(
    control: &Control,
    device: &DeviceRef,
    after: i64,
    tx: &mut Tx,
) -> Result<i64, Option<sqlx::Error>>
where
    Tx: Sink<String> + Unpin,
{
    let pool = control.pool();
    // A position beyond the newest event would silently skip future ones.
    let newest = last_event_id(pool).await.map_err(Some)?;
    let mut position = after.clamp(0, newest);
    loop {
        let rows = fetch_after(pool, position, REPLAY_BATCH, false)
            .await
            .map_err(Some)?;
        if rows.is_empty() {
            return Ok(position);
        }
        for row in rows {
            let targets = control
                .hub
                .audience
                .resolve(pool, &row)
                .await
                .map_err(Some)?;
            if targets.contains(device) && tx.send(row.to_event().frame.to_string()).await.is_err()
            {
                return Err(None);
            }
            position = row.id;
        }
    }
}
