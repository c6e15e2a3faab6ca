//! Outbox rows as the dispatcher and sessions see them.

use std::sync::Arc;

use sqlx::Row;
use sqlx::any::AnyRow;

/// An outbox row.
#[derive(Clone, Debug)]
pub(crate) struct StoredEvent {
    pub id: i64,
    pub kind: String,
    pub audience: String,
    pub channel_id: Option<String>,
    pub epoch: Option<i64>,
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    pub payload: String,
    pub created_at: i64,
}

/// The columns [`StoredEvent::from_row`] reads.
pub(crate) const EVENT_COLUMNS: &str =
    "id, kind, audience, channel_id, epoch, user_id, device_id, payload, created_at";

impl StoredEvent {
    pub(crate) fn from_row(row: &AnyRow) -> Result<StoredEvent, sqlx::Error> {
        Ok(StoredEvent {
            id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            audience: row.try_get("audience")?,
            channel_id: row.try_get("channel_id")?,
            epoch: row.try_get("epoch")?,
            user_id: row.try_get("user_id")?,
            device_id: row.try_get("device_id")?,
            payload: row.try_get("payload")?,
            created_at: row.try_get("created_at")?,
        })
    }

    /// The event ready to send, its frame serialized once for every recipient.
    pub(crate) fn to_event(&self) -> Arc<Event> {
        let kind = serde_json::Value::from(self.kind.as_str());
        Arc::new(Event {
            id: self.id,
            frame: format!(
                r#"{{"type":"event","id":{},"kind":{},"created_at":{},"data":{}}}"#,
                self.id, kind, self.created_at, self.payload
            )
            .into(),
        })
    }
}

/// A realtime event as delivered: its outbox id and its serialized `event` frame
/// (`{"type":"event","id":..,"kind":..,"created_at":..,"data":{..}}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Outbox id: increasing, the resume position; 0 for a live-only event (typing, presence),
    /// whose frame carries no id.
    pub id: i64,
    /// The JSON text frame.
    pub frame: Arc<str>,
}

/// Rows after `after`, in id order; without `include_ephemeral`, typing and presence are skipped (resume).
pub(crate) async fn fetch_after(
    pool: &sqlx::AnyPool,
    after: i64,
    limit: i64,
    include_ephemeral: bool,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    let filter = if include_ephemeral {
        ""
    } else {
        "AND kind NOT IN ('typing', 'presence')"
    };
    let sql =
        format!("SELECT {EVENT_COLUMNS} FROM outbox WHERE id > $1 {filter} ORDER BY id LIMIT $2");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(StoredEvent::from_row).collect()
}

/// The newest event id (0 when the outbox is empty).
pub(crate) async fn last_event_id(pool: &sqlx::AnyPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT last_id FROM outbox_counter WHERE id = 1")
        .fetch_one(pool)
        .await
}
