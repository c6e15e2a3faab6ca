//! Membership queries over `channel_device_spans` (derived from the timeline).
//!
//! A device is a member at epoch `e` when one of its spans has `joined_epoch <= e` and
//! (`left_epoch IS NULL` or `left_epoch > e`). For `e` up to the current epoch the answer never
//! changes, which lets the realtime fanout cache it.

use sqlx::Row;

use super::DeviceRef;

/// Whether the device is a member of the channel at `epoch`.
pub(crate) async fn is_member_at<'c>(
    db: impl sqlx::Executor<'c, Database = sqlx::Any>,
    channel_id: &str,
    device: (&str, &str),
    epoch: i64,
) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM channel_device_spans WHERE channel_id = $1 AND user_id = $2 \
         AND device_id = $3 AND joined_epoch <= $4 AND (left_epoch IS NULL OR left_epoch > $4)",
    )
    .bind(channel_id)
    .bind(device.0)
    .bind(device.1)
    .bind(epoch)
    .fetch_optional(db)
    .await?;
    Ok(found.is_some())
}

/// The member devices of the channel at `epoch`, with the epoch each joined, ordered.
pub(crate) async fn members_at<'c>(
    db: impl sqlx::Executor<'c, Database = sqlx::Any>,
    channel_id: &str,
    epoch: i64,
) -> Result<Vec<(DeviceRef, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT user_id, device_id, joined_epoch FROM channel_device_spans \
         WHERE channel_id = $1 AND joined_epoch <= $2 AND (left_epoch IS NULL OR left_epoch > $2) \
         ORDER BY user_id, device_id",
    )
    .bind(channel_id)
    .bind(epoch)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                DeviceRef {
                    user_id: row.try_get("user_id")?,
                    device_id: row.try_get("device_id")?,
                },
                row.try_get("joined_epoch")?,
            ))
        })
        .collect()
}
