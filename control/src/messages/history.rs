//! History pages, bound to membership: a device reads only envelopes of epochs in which it was
//! a member of the channel.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{
    DEFAULT_HISTORY_LIMIT, History, HistoryDirection, HistoryError, HistoryQuery,
    MAX_HISTORY_LIMIT, Message,
};
use crate::communities::parse_stored;
use crate::epochs::DeviceRef;
use crate::{Control, ControlError, FieldErrors};

/// The columns [`message_from_row`] reads.
pub(crate) const MESSAGE_COLUMNS: &str = "id, channel_id, seq, epoch, sender_user_id, \
     sender_device_id, client_message_id, content_type, refers_to, ciphertext, metadata, \
     created_at, deleted_at";

/// A [`Message`] from a row holding [`MESSAGE_COLUMNS`].
pub(crate) fn message_from_row(row: &AnyRow) -> Result<Message, ControlError> {
    let metadata: String = row.try_get("metadata")?;
    Ok(Message {
        id: row.try_get("id")?,
        channel_id: row.try_get("channel_id")?,
        seq: row.try_get("seq")?,
        epoch: row.try_get("epoch")?,
        sender_user_id: row.try_get("sender_user_id")?,
        sender_device_id: row.try_get("sender_device_id")?,
        client_message_id: row.try_get("client_message_id")?,
        content_type: parse_stored(row.try_get::<String, _>("content_type")?)?,
        refers_to: row.try_get("refers_to")?,
        ciphertext: row.try_get("ciphertext")?,
        metadata: serde_json::from_str(&metadata)
            .map_err(|e| ControlError::Corrupt(format!("message metadata: {e}")))?,
        created_at: row.try_get("created_at")?,
        deleted_at: row.try_get("deleted_at")?,
    })
}

impl Control {
    /// A page of `channel_id`'s history as `device` may read it: only envelopes whose epoch falls
    /// in one of the device's membership spans. `ChannelNotFound` unless the device's user is a
    /// member of the channel's server.
    pub async fn history(
        &self,
        device: &DeviceRef,
        channel_id: &str,
        query: HistoryQuery,
    ) -> Result<History, HistoryError> {
        let mut errors = FieldErrors::default();
        let limit = query.limit.unwrap_or(DEFAULT_HISTORY_LIMIT);
        if !(1..=MAX_HISTORY_LIMIT).contains(&limit) {
            errors.add("limit", "must be 1-200");
        }
        // 1-18 decimal digits (what `next_cursor` holds): always fits an i64.
        let digits = |c: &str| (1..=18).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_digit());
        let cursor = match query.cursor.as_deref() {
            None => None,
            Some(c) if digits(c) => c.parse::<i64>().ok(),
            Some(_) => {
                errors.add("cursor", "malformed cursor");
                None
            }
        };
        errors.into_result().map_err(HistoryError::Invalid)?;
        self.visible_channel(&device.user_id, channel_id).await?;

        let (comparison, order, start) = match query.direction {
            HistoryDirection::Forward => (">", "ASC", cursor.unwrap_or(0)),
            HistoryDirection::Backward => ("<", "DESC", cursor.unwrap_or(i64::MAX)),
        };
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.channel_id = $1 \
             AND m.seq {comparison} $2 AND EXISTS (SELECT 1 FROM channel_device_spans s \
             WHERE s.channel_id = m.channel_id AND s.user_id = $3 AND s.device_id = $4 \
             AND s.joined_epoch <= m.epoch AND (s.left_epoch IS NULL OR s.left_epoch > m.epoch)) \
             ORDER BY m.seq {order} LIMIT $5"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(channel_id)
            .bind(start)
            .bind(&device.user_id)
            .bind(&device.device_id)
            .bind(limit + 1)
            .fetch_all(self.pool())
            .await?;
        let has_more = rows.len() as i64 > limit;
        let messages = rows
            .iter()
            .take(usize::try_from(limit).unwrap_or(0))
            .map(message_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(History {
            next_cursor: messages.last().map(|m| m.seq.to_string()),
            messages,
            has_more,
        })
    }
}
