//! The per-process dispatcher: tails the outbox in id order and delivers to local sessions;
//! on PostgreSQL a `LISTEN` task wakes it when another process commits an event.

use std::sync::Weak;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::postgres::PgListener;
use tokio::sync::watch;

use super::access::{AccessChange, SessionEnd};
use super::background::stopped;
use super::ephemeral::{EPHEMERAL_CHANNEL, deliver_remote};
use super::event::{StoredEvent, fetch_after, last_event_id};
use super::hub::Hub;
use crate::epochs::DeviceRef;
use crate::outbox::{NOTIFY_CHANNEL, kind};

/// Fallback poll: catches events whose `NOTIFY` was missed (listener reconnecting) and, on
/// SQLite, events written by other processes sharing the file.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Outbox rows fetched per query.
const BATCH: i64 = 512;

pub(super) async fn dispatch(hub: Weak<Hub>, pool: AnyPool, mut stopping: watch::Receiver<bool>) {
    let mut last = loop {
        match last_event_id(&pool).await {
            Ok(id) => {
                match hub.upgrade() {
                    Some(hub) => hub.set_dispatching(),
                    None => return,
                }
                break id;
            }
            Err(_) if pool.is_closed() => return,
            Err(e) => {
                tracing::warn!(error = %e, "realtime dispatcher cannot read the outbox; retrying");
                tokio::select! {
                    () = tokio::time::sleep(POLL_INTERVAL) => {}
                    () = stopped(&mut stopping) => return,
                }
            }
        }
    };
    loop {
        let Some(strong) = hub.upgrade() else { return };
        tokio::select! {
            () = strong.woken() => {}
            () = tokio::time::sleep(POLL_INTERVAL) => {}
            () = stopped(&mut stopping) => return,
        }
        if pool.is_closed() {
            return;
        }
        drain(&strong, &pool, &mut last).await;
    }
}

/// Delivers every event after `last`, advancing it. Stops at the first database error (the
/// next wake-up or poll retries from the same place).
async fn drain(hub: &Hub, pool: &AnyPool, last: &mut i64) {
    loop {
        let rows = match fetch_after(pool, *last, BATCH, true).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "realtime dispatcher cannot read the outbox");
                return;
            }
        };
        if rows.is_empty() {
            return;
        }
        for row in rows {
            let change = access_change(&row);
            if change.is_some() {
                // Before resolving this or any later event: see `access.rs`.
                hub.audience.access.invalidate();
            }
            match hub.audience.resolve(pool, &row).await {
                Ok(targets) => hub.deliver(&row.to_event(), &targets),
                Err(e) => {
                    tracing::warn!(error = %e, event = row.id, "cannot resolve an event's audience");
                    return;
                }
            }
            if let Some(Some(change)) = change {
                if let AccessChange::DeviceRevoked { user_id, device_id } = &change {
                    hub.end_device(
                        &DeviceRef::new(user_id, device_id),
                        SessionEnd::DEVICE_REVOKED,
                    );
                }
                // Nobody listening (no signaling in this process) is fine.
                let _ = hub.access_changes.0.send(change);
            }
            *last = row.id;
        }
    }
}

/// For an event that changes who may read what: `Some(change)` to publish (`Some(None)` when it
/// only invalidates, e.g. a new member). `None` for every other event.
fn access_change(row: &StoredEvent) -> Option<Option<AccessChange>> {
    let payload: serde_json::Value = serde_json::from_str(&row.payload).unwrap_or_default();
    let field = |name: &str| payload.get(name)?.as_str().map(str::to_owned);
    match row.kind.as_str() {
        kind::MEMBER_ADDED => Some(None),
        kind::DEVICE_REVOKED => Some((|| {
            Some(AccessChange::DeviceRevoked {
                user_id: field("user_id")?,
                device_id: field("device_id")?,
            })
        })()),
        kind::MODERATION_ACTION => Some((|| {
            Some(AccessChange::Moderation {
                server_id: field("server_id")?,
                user_id: field("user_id")?,
                action: crate::ActionKind::parse(&field("action")?)?,
                until: payload.get("until").and_then(serde_json::Value::as_i64),
            })
        })()),
        kind::MEMBER_REMOVED => Some((|| {
            Some(AccessChange::MemberRemoved {
                server_id: field("server_id")?,
                user_id: field("user_id")?,
            })
        })()),
        _ => None,
    }
}

/// `LISTEN openchat_outbox` (wake the dispatcher) and `openchat_ephemeral` (deliver the live-only
/// event it carries); reconnects until the process stops.
pub(super) async fn listen(
    hub: Weak<Hub>,
    pool: AnyPool,
    url: String,
    mut stopping: watch::Receiver<bool>,
) {
    loop {
        if *stopping.borrow() {
            return;
        }
        match PgListener::connect(&url).await {
            Ok(mut listener) => match listener
                .listen_all([NOTIFY_CHANNEL, EPHEMERAL_CHANNEL])
                .await
            {
                Ok(()) => {
                    tracing::debug!("realtime: listening for outbox notifications");
                    // Anything committed while we were not listening.
                    match hub.upgrade() {
                        Some(hub) => hub.wake(),
                        None => return,
                    }
                    loop {
                        let received = tokio::select! {
                            r = tokio::time::timeout(POLL_INTERVAL * 4, listener.recv()) => r,
                            () = stopped(&mut stopping) => return,
                        };
                        match received {
                            Ok(Ok(notification)) => match hub.upgrade() {
                                Some(hub) if notification.channel() == EPHEMERAL_CHANNEL => {
                                    deliver_remote(&hub, &pool, notification.payload()).await;
                                }
                                Some(hub) => hub.wake(),
                                None => return,
                            },
                            Ok(Err(e)) => {
                                tracing::warn!(error = %e, "realtime LISTEN connection lost");
                                break;
                            }
                            // Idle: only check that someone still uses the hub.
                            Err(_) if hub.strong_count() == 0 => return,
                            Err(_) => {}
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "realtime LISTEN failed"),
            },
            Err(e) => tracing::warn!(error = %e, "realtime LISTEN cannot connect"),
        }
        if hub.strong_count() == 0 {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(POLL_INTERVAL) => {}
            () = stopped(&mut stopping) => return,
        }
    }
}
