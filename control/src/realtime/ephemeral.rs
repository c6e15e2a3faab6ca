//! Typing and presence: live-only events. They never touch the outbox or the SQLite writer
//! gate: this process delivers them to its own sessions at once, and on PostgreSQL a
//! `pg_notify` on [`EPHEMERAL_CHANNEL`] carries them to the other processes, whose `LISTEN` task
//! delivers them (a process skips its own, by origin id). They are never replayed, carry no
//! event id (they are not a resume position), and processes sharing one SQLite file do not see
//! each other's.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::event::{Event, StoredEvent};
use super::hub::Hub;
use crate::db::Backend;
use crate::epochs::{DeviceRef, is_member_at};
use crate::outbox::kind;
use crate::{Control, ControlError};

/// PostgreSQL `NOTIFY` channel carrying live-only events between processes.
pub(crate) const EPHEMERAL_CHANNEL: &str = "openchat_ephemeral";

/// A live-only event as it travels between processes.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Ephemeral {
    /// The sending process (`Hub::origin`).
    pub origin: String,
    pub kind: String,
    pub audience: String,
    pub channel_id: Option<String>,
    pub epoch: Option<i64>,
    pub user_id: Option<String>,
    pub payload: serde_json::Value,
    pub created_at: i64,
}

impl Ephemeral {
    /// The row shape the audience resolver reads (id 0: not an outbox row).
    fn as_row(&self) -> StoredEvent {
        StoredEvent {
            id: 0,
            kind: self.kind.clone(),
            audience: self.audience.clone(),
            channel_id: self.channel_id.clone(),
            epoch: self.epoch,
            user_id: self.user_id.clone(),
            device_id: None,
            payload: self.payload.to_string(),
            created_at: self.created_at,
        }
    }

    /// The `event` frame, without an `id`.
    fn to_event(&self) -> Arc<Event> {
        let frame = json!({
            "type": "event",
            "kind": self.kind,
            "created_at": self.created_at,
            "data": self.payload,
        });
        Arc::new(Event {
            id: 0,
            frame: frame.to_string().into(),
        })
    }
}

/// Delivers `event` to this process's sessions of its audience.
pub(crate) async fn deliver_locally(hub: &Hub, pool: &sqlx::AnyPool, event: &Ephemeral) {
    match hub.audience.resolve(pool, &event.as_row()).await {
        Ok(targets) => hub.deliver(&event.to_event(), &targets),
        Err(e) => {
            tracing::warn!(error = %e, kind = %event.kind, "cannot resolve a live event's audience");
        }
    }
}

/// Delivers a live-only event that arrived from another process (the `LISTEN` task).
pub(crate) async fn deliver_remote(hub: &Hub, pool: &sqlx::AnyPool, payload: &str) {
    match serde_json::from_str::<Ephemeral>(payload) {
        Ok(event) if event.origin == hub.origin.0 => {}
        Ok(event) => deliver_locally(hub, pool, &event).await,
        Err(e) => tracing::warn!(error = %e, "a live event from another process is malformed"),
    }
}

impl Control {
    /// Announces that `device` is typing in `channel_id` to the channel's member devices.
    /// Returns `false` (and sends nothing) unless the device is a current member.
    pub async fn emit_typing(
        &self,
        device: &DeviceRef,
        channel_id: &str,
    ) -> Result<bool, ControlError> {
        if self
            .visible_channel(&device.user_id, channel_id)
            .await
            .is_err()
        {
            return Ok(false);
        }
        let epoch: i64 = sqlx::query_scalar("SELECT epoch FROM channels WHERE id = $1")
            .bind(channel_id)
            .fetch_one(self.pool())
            .await?;
        let key = (device.user_id.as_str(), device.device_id.as_str());
        if !is_member_at(self.pool(), channel_id, key, epoch).await? {
            return Ok(false);
        }
        self.emit_ephemeral(Ephemeral {
            origin: self.hub.origin.0.clone(),
            kind: kind::TYPING.into(),
            audience: "channel_epoch".into(),
            channel_id: Some(channel_id.into()),
            epoch: Some(epoch),
            user_id: None,
            payload: json!({
                "channel_id": channel_id,
                "user_id": device.user_id,
                "device_id": device.device_id,
            }),
            created_at: self.now(),
        })
        .await;
        Ok(true)
    }

    /// Announces `user_id` as `online` or `offline` to the users sharing a server with them.
    pub(crate) async fn emit_presence(&self, user_id: &str, status: &str) {
        self.emit_ephemeral(Ephemeral {
            origin: self.hub.origin.0.clone(),
            kind: kind::PRESENCE.into(),
            audience: "user_peers".into(),
            channel_id: None,
            epoch: None,
            user_id: Some(user_id.into()),
            payload: json!({ "user_id": user_id, "status": status }),
            created_at: self.now(),
        })
        .await;
    }

    async fn emit_ephemeral(&self, event: Ephemeral) {
        deliver_locally(&self.hub, self.pool(), &event).await;
        if self.backend != Backend::Postgres {
            return;
        }
        let Ok(payload) = serde_json::to_string(&event) else {
            return;
        };
        // Best effort, like the event itself: a lost one is a missed typing indicator.
        if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(EPHEMERAL_CHANNEL)
            .bind(payload)
            .execute(self.pool())
            .await
        {
            tracing::debug!(error = %e, "live event NOTIFY failed");
        }
    }
}
