//! Accepting an envelope: idempotent, bound to membership and epoch, committed with its event.

use serde_json::{Value, json};
use sqlx::AnyConnection;

use super::history::{MESSAGE_COLUMNS, message_from_row};
use super::{
    ContentType, EPOCH_GRACE, EPOCH_GRACE_MILLIS, MAX_METADATA_BYTES, Message, NewMessage,
    SendError, SendOutcome,
};
use crate::db::new_id;
use crate::epochs::{DeviceRef, MAX_OPAQUE_BYTES, is_member_at};
use crate::outbox::{Audience, kind};
use crate::payload::{PayloadError, decoded_len};
use crate::validate::{check_id, is_valid_id};
use crate::{Control, FieldErrors};

impl Control {
    /// Stores an envelope sent by `sender` (the caller's device) to `channel_id`.
    ///
    /// A retry with the same `client_message_id` from the same device returns the original
    /// (`created: false`), even if the epoch moved on since. Otherwise refused when the sender
    /// device is not a member at the current epoch (and at the message's epoch), when the epoch
    /// is older than [`EPOCH_GRACE`] epochs / [`EPOCH_GRACE_MILLIS`], newer than the channel's,
    /// or when the ciphertext exceeds 64 KiB. The message and its `message_created` event
    /// commit together: an `Ok` means it is durable.
    pub async fn send_message(
        &self,
        sender: &DeviceRef,
        channel_id: &str,
        new: NewMessage,
    ) -> Result<SendOutcome, SendError> {
        let metadata = validate(&new)?;
        if let Some(r) = self
            .restriction_in_channel(channel_id, &sender.user_id)
            .await?
        {
            return Err(SendError::Restricted(r));
        }
        self.visible_channel(&sender.user_id, channel_id).await?;
        if let Some(original) =
            find_original(self.pool(), channel_id, sender, &Probe::of_new(&new)).await?
        {
            return original;
        }

        // Everything that depends only on the epoch is checked before taking the channel lock
        // (membership changes only with the epoch; re-checked under the lock if it moved).
        let seen_epoch: Option<i64> =
            sqlx::query_scalar("SELECT epoch FROM channels WHERE id = $1")
                .bind(channel_id)
                .fetch_optional(self.pool())
                .await?;
        let seen_epoch = seen_epoch.ok_or(SendError::ChannelNotFound)?;
        {
            let mut conn = self.pool().acquire().await?;
            self.check_epoch(&mut conn, channel_id, sender, new.epoch, seen_epoch)
                .await?;
            if let Some(target) = &new.refers_to {
                check_reference(&mut conn, channel_id, sender, target, new.content_type).await?;
            }
        }

        let mut tx = self.write().await?;
        // First statement, a write: row-locks the channel, so sends are numbered in commit order
        // and serialized with membership commits. Keep the statements below it few.
        let row: Option<(i64, i64)> = sqlx::query_as(
            "UPDATE channels SET last_message_seq = last_message_seq + 1 WHERE id = $1 \
             RETURNING epoch, last_message_seq",
        )
        .bind(channel_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (current_epoch, seq) = row.ok_or(SendError::ChannelNotFound)?;
        if current_epoch != seen_epoch {
            self.check_epoch(&mut tx, channel_id, sender, new.epoch, current_epoch)
                .await?;
        }

        let message = Message {
            id: new_id("msg"),
            channel_id: channel_id.to_owned(),
            seq,
            epoch: new.epoch,
            sender_user_id: sender.user_id.clone(),
            sender_device_id: sender.device_id.clone(),
            client_message_id: new.client_message_id,
            content_type: new.content_type,
            refers_to: new.refers_to,
            ciphertext: Some(new.ciphertext),
            metadata,
            created_at: self.now(),
            deleted_at: None,
        };
        if !insert(&mut tx, &message).await? {
            // A concurrent retry committed first (the unique index said so): answer with it.
            tx.rollback().await?;
            return find_original(
                self.pool(),
                channel_id,
                sender,
                &Probe::of_message(&message),
            )
            .await?
            .unwrap_or_else(|| Err(SendError::ClientMessageIdReused));
        }
        if let (ContentType::Delete, Some(target)) = (message.content_type, &message.refers_to) {
            sqlx::query(
                "UPDATE messages SET ciphertext = NULL, deleted_at = $1 \
                 WHERE id = $2 AND deleted_at IS NULL",
            )
            .bind(message.created_at)
            .bind(target)
            .execute(&mut *tx)
            .await?;
        }
        let payload = json!({ "channel_id": channel_id, "message": &message });
        tx.append(
            kind::MESSAGE_CREATED,
            Audience::ChannelEpoch {
                channel_id,
                epoch: message.epoch,
            },
            &payload,
            message.created_at,
        )
        .await?;
        tx.commit().await?;
        Ok(SendOutcome {
            message,
            created: true,
        })
    }

    /// The epoch rule: at most [`EPOCH_GRACE`] behind (and then only within
    /// [`EPOCH_GRACE_MILLIS`] of the commit that advanced it), never ahead; the sender device is
    /// a member at the current epoch and at the message's epoch.
    async fn check_epoch(
        &self,
        conn: &mut AnyConnection,
        channel_id: &str,
        sender: &DeviceRef,
        epoch: i64,
        current_epoch: i64,
    ) -> Result<(), SendError> {
        if epoch > current_epoch {
            return Err(SendError::UnknownEpoch { current_epoch });
        }
        if epoch < current_epoch {
            let advanced_at: Option<i64> = sqlx::query_scalar(
                "SELECT created_at FROM membership_commits WHERE channel_id = $1 AND epoch = $2",
            )
            .bind(channel_id)
            .bind(epoch + 1)
            .fetch_optional(&mut *conn)
            .await?;
            let in_window = advanced_at.is_some_and(|t| self.now() - t <= EPOCH_GRACE_MILLIS);
            if current_epoch - epoch > EPOCH_GRACE || !in_window {
                return Err(SendError::StaleEpoch { current_epoch });
            }
        }
        let device = (sender.user_id.as_str(), sender.device_id.as_str());
        if !is_member_at(&mut *conn, channel_id, device, current_epoch).await? {
            return Err(SendError::NotAMember);
        }
        if epoch != current_epoch && !is_member_at(&mut *conn, channel_id, device, epoch).await? {
            return Err(SendError::NotAMember);
        }
        Ok(())
    }
}

/// Checks the input; returns the metadata object to store.
fn validate(new: &NewMessage) -> Result<Value, SendError> {
    let mut errors = FieldErrors::default();
    check_id(&mut errors, "client_message_id", &new.client_message_id);
    if new.epoch < 0 {
        errors.add("epoch", "must be >= 0");
    }
    match decoded_len(&new.ciphertext, MAX_OPAQUE_BYTES) {
        Err(PayloadError::Malformed) => errors.add("ciphertext", "must be base64"),
        Err(PayloadError::TooLarge) => return Err(SendError::PayloadTooLarge),
        Ok(0) if new.content_type != ContentType::Delete => {
            errors.add("ciphertext", "must not be empty")
        }
        Ok(_) => {}
    }
    let metadata = new.metadata.clone().unwrap_or_else(|| json!({}));
    if !metadata.is_object() {
        errors.add("metadata", "must be a JSON object");
    } else if metadata.to_string().len() > MAX_METADATA_BYTES {
        return Err(SendError::PayloadTooLarge);
    }
    match (&new.refers_to, new.content_type) {
        (Some(_), ContentType::Message) => {
            errors.add("refers_to", "only for edit, delete, reaction")
        }
        (None, ContentType::Edit | ContentType::Delete | ContentType::Reaction) => {
            errors.add("refers_to", "required for edit, delete, reaction")
        }
        (Some(id), _) if !is_valid_id(id) => errors.add("refers_to", "malformed message id"),
        _ => {}
    }
    errors.into_result().map_err(SendError::Invalid)?;
    Ok(metadata)
}

/// What identifies a send and what a retry must repeat.
struct Probe<'a> {
    client_message_id: &'a str,
    epoch: i64,
    content_type: ContentType,
    refers_to: Option<&'a str>,
    ciphertext: &'a str,
}

impl<'a> Probe<'a> {
    fn of_new(new: &'a NewMessage) -> Probe<'a> {
        Probe {
            client_message_id: &new.client_message_id,
            epoch: new.epoch,
            content_type: new.content_type,
            refers_to: new.refers_to.as_deref(),
            ciphertext: &new.ciphertext,
        }
    }

    fn of_message(message: &'a Message) -> Probe<'a> {
        Probe {
            client_message_id: &message.client_message_id,
            epoch: message.epoch,
            content_type: message.content_type,
            refers_to: message.refers_to.as_deref(),
            ciphertext: message.ciphertext.as_deref().unwrap_or(""),
        }
    }
}

/// The stored message with this client id from this device, as the outcome of a retry: the
/// original when the envelope is the same, `ClientMessageIdReused` when it differs.
async fn find_original<'c>(
    db: impl sqlx::Executor<'c, Database = sqlx::Any>,
    channel_id: &str,
    sender: &DeviceRef,
    probe: &Probe<'_>,
) -> Result<Option<Result<SendOutcome, SendError>>, SendError> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE channel_id = $1 AND sender_user_id = $2 \
         AND sender_device_id = $3 AND client_message_id = $4"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(channel_id)
        .bind(&sender.user_id)
        .bind(&sender.device_id)
        .bind(probe.client_message_id)
        .fetch_optional(db)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let message = message_from_row(&row)?;
    let same = message.epoch == probe.epoch
        && message.content_type == probe.content_type
        && message.refers_to.as_deref() == probe.refers_to
        && (message.deleted_at.is_some()
            || message.ciphertext.as_deref() == Some(probe.ciphertext));
    Ok(Some(if same {
        Ok(SendOutcome {
            message,
            created: false,
        })
    } else {
        Err(SendError::ClientMessageIdReused)
    }))
}

/// An edit, delete or reaction must refer to a message of the same channel; a delete must come
/// from the target's author (any of their devices).
async fn check_reference(
    conn: &mut AnyConnection,
    channel_id: &str,
    sender: &DeviceRef,
    target: &str,
    content_type: ContentType,
) -> Result<(), SendError> {
    let author: Option<String> =
        sqlx::query_scalar("SELECT sender_user_id FROM messages WHERE id = $1 AND channel_id = $2")
            .bind(target)
            .bind(channel_id)
            .fetch_optional(&mut *conn)
            .await?;
    match author {
        None => Err(SendError::ReferenceNotFound),
        Some(author) if content_type == ContentType::Delete && author != sender.user_id => {
            Err(SendError::NotTheAuthor)
        }
        Some(_) => Ok(()),
    }
}

/// Inserts the message; `false` when a message with the same client id from the same device
/// already exists.
async fn insert(conn: &mut AnyConnection, message: &Message) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO messages (id, channel_id, seq, epoch, sender_user_id, sender_device_id, \
         client_message_id, content_type, refers_to, ciphertext, metadata, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (channel_id, sender_user_id, sender_device_id, client_message_id) DO NOTHING",
    )
    .bind(&message.id)
    .bind(&message.channel_id)
    .bind(message.seq)
    .bind(message.epoch)
    .bind(&message.sender_user_id)
    .bind(&message.sender_device_id)
    .bind(&message.client_message_id)
    .bind(message.content_type.as_str())
    .bind(&message.refers_to)
    .bind(&message.ciphertext)
    .bind(message.metadata.to_string())
    .bind(message.created_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}
