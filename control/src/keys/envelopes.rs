//! To-device key envelopes: published by one device for others, read by their recipient in
//! order, each delivered once.
//!
//! Delivery: a read leases the oldest pending envelopes of the device to that read for
//! [`LEASE_MILLIS`]; a concurrent read does not see them. An ack (`up_to` = the read's cursor,
//! explicitly or as the next read's `cursor`) deletes the leased envelopes up to it. Envelopes a
//! reader never acknowledged become visible again once their lease ends (the reader crashed).

use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

use super::{KeysError, check_payload};
use crate::Control;
use crate::outbox::{Audience, kind};
use crate::validate::FieldErrors;

/// Largest envelope payload: 64 KiB decoded.
pub const MAX_ENVELOPE_BYTES: usize = 64 * 1024;
/// Most envelopes per publish call.
pub const MAX_ENVELOPES_PER_PUBLISH: usize = 100;
/// Most envelopes one read returns.
pub const MAX_ENVELOPES_PER_READ: i64 = 100;
/// Most envelopes waiting for one device; a publish beyond is refused (`envelope_queue_full`).
pub const MAX_PENDING_PER_DEVICE: i64 = 10_000;
/// How long a read holds the envelopes it returned before they may be delivered again.
pub const LEASE_MILLIS: i64 = 60_000;

/// One envelope to publish.
#[derive(Clone, Debug)]
pub struct NewKeyEnvelope {
    /// The recipient user.
    pub user_id: String,
    /// The recipient device.
    pub device_id: String,
    /// Opaque payload, standard base64, at most 64 KiB decoded.
    pub payload: String,
}

/// A delivered envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct KeyEnvelope {
    /// Position in the device's queue (increasing); ack up to it.
    pub id: i64,
    /// The sender user.
    pub sender_user_id: String,
    /// The sender device.
    pub sender_device_id: String,
    /// Opaque payload, standard base64.
    pub payload: String,
    /// When it was published, unix milliseconds.
    pub created_at: i64,
}

/// The answer of a read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct PendingEnvelopes {
    /// Envelopes in publication order (at most 100).
    pub envelopes: Vec<KeyEnvelope>,
    /// Pass as `cursor` to the next read, or as `up_to` to an ack; `null` when nothing was
    /// returned.
    pub cursor: Option<i64>,
}

impl Control {
    /// Publishes envelopes from the caller's device; all or none are stored. Each recipient
    /// must be an active device of a user the caller can see (`DeviceNotFound` with its index).
    pub async fn publish_key_envelopes(
        &self,
        user_id: &str,
        device_id: &str,
        envelopes: &[NewKeyEnvelope],
    ) -> Result<Vec<i64>, KeysError> {
        if envelopes.is_empty() || envelopes.len() > MAX_ENVELOPES_PER_PUBLISH {
            let mut errors = FieldErrors::default();
            errors.add("envelopes", "must hold 1-100 envelopes");
            return Err(KeysError::Invalid(errors));
        }
        self.ensure_device(user_id, device_id).await?;
        for (index, envelope) in envelopes.iter().enumerate() {
            check_payload(
                &envelope.payload,
                MAX_ENVELOPE_BYTES,
                "payload",
                Some(index),
            )?;
            if !self.can_see_user(user_id, &envelope.user_id).await?
                || !self
                    .is_active_device(&envelope.user_id, &envelope.device_id)
                    .await?
            {
                return Err(KeysError::DeviceNotFound { index: Some(index) });
            }
        }
        for (index, envelope) in envelopes.iter().enumerate() {
            let earlier = envelopes[..index]
                .iter()
                .filter(|e| e.user_id == envelope.user_id && e.device_id == envelope.device_id)
                .count();
            if earlier > 0 {
                continue;
            }
            let batch = envelopes
                .iter()
                .filter(|e| e.user_id == envelope.user_id && e.device_id == envelope.device_id)
                .count();
            let pending: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM key_envelopes \
                 WHERE recipient_user_id = $1 AND recipient_device_id = $2",
            )
            .bind(&envelope.user_id)
            .bind(&envelope.device_id)
            .fetch_one(self.pool())
            .await?;
            if pending + i64::try_from(batch).unwrap_or(i64::MAX) > MAX_PENDING_PER_DEVICE {
                return Err(KeysError::QueueFull {
                    index: Some(index),
                    max: MAX_PENDING_PER_DEVICE,
                });
            }
        }
        let now = self.now();
        let mut tx = self.write().await?;
        let mut ids = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO key_envelopes (recipient_user_id, recipient_device_id, \
                 sender_user_id, sender_device_id, payload, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(&envelope.user_id)
            .bind(&envelope.device_id)
            .bind(user_id)
            .bind(device_id)
            .bind(&envelope.payload)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            ids.push(id);
        }
        // One `key_envelope_pending` event per recipient device, last in the transaction (the
        // outbox rule), so the event exists exactly when the envelopes do.
        let mut recipients: Vec<(&str, &str)> = Vec::new();
        for envelope in envelopes {
            let key = (envelope.user_id.as_str(), envelope.device_id.as_str());
            if !recipients.contains(&key) {
                recipients.push(key);
            }
        }
        for (recipient_user, recipient_device) in recipients {
            let count = envelopes
                .iter()
                .filter(|e| e.user_id == recipient_user && e.device_id == recipient_device)
                .count();
            let payload = serde_json::json!({
                "device_id": recipient_device,
                "count": count,
                "sender_user_id": user_id,
                "sender_device_id": device_id,
            });
            let audience = Audience::Device {
                user_id: recipient_user,
                device_id: recipient_device,
            };
            tx.append(kind::KEY_ENVELOPE_PENDING, audience, &payload, now)
                .await?;
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Reads the caller device's pending envelopes, first acknowledging those up to `cursor`.
    pub async fn read_key_envelopes(
        &self,
        user_id: &str,
        device_id: &str,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<PendingEnvelopes, KeysError> {
        self.ensure_device(user_id, device_id).await?;
        let limit = limit.unwrap_or(MAX_ENVELOPES_PER_READ);
        if !(1..=MAX_ENVELOPES_PER_READ).contains(&limit) {
            let mut errors = FieldErrors::default();
            errors.add("limit", "must be 1-100");
            return Err(KeysError::Invalid(errors));
        }
        if let Some(cursor) = cursor {
            self.ack_key_envelopes(user_id, device_id, cursor).await?;
        }
        let now = self.now();
        let lease: String = rand::rng()
            .sample_iter(&Alphanumeric)
            .take(20)
            .map(char::from)
            .collect();
        // One statement: the outer condition is re-checked on rows a concurrent read just
        // leased, so each envelope goes to one read only.
        sqlx::query(
            "UPDATE key_envelopes SET lease_id = $1, lease_until = $2 \
             WHERE recipient_user_id = $3 AND recipient_device_id = $4 \
             AND (lease_until IS NULL OR lease_until <= $5) \
             AND id IN (SELECT id FROM key_envelopes \
                 WHERE recipient_user_id = $6 AND recipient_device_id = $7 \
                 AND (lease_until IS NULL OR lease_until <= $8) ORDER BY id LIMIT $9)",
        )
        .bind(&lease)
        .bind(now + LEASE_MILLIS)
        .bind(user_id)
        .bind(device_id)
        .bind(now)
        .bind(user_id)
        .bind(device_id)
        .bind(now)
        .bind(limit)
        .execute(self.pool())
        .await?;
        let rows = sqlx::query(
            "SELECT id, sender_user_id, sender_device_id, payload, created_at \
             FROM key_envelopes WHERE lease_id = $1 ORDER BY id",
        )
        .bind(&lease)
        .fetch_all(self.pool())
        .await?;
        let envelopes = rows
            .iter()
            .map(|row| {
                Ok(KeyEnvelope {
                    id: row.try_get("id")?,
                    sender_user_id: row.try_get("sender_user_id")?,
                    sender_device_id: row.try_get("sender_device_id")?,
                    payload: row.try_get("payload")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let cursor = envelopes.last().map(|e| e.id);
        Ok(PendingEnvelopes { envelopes, cursor })
    }

    /// Deletes the caller device's delivered envelopes with ids up to `up_to`; returns how many.
    /// Envelopes never delivered are kept even when their id is lower.
    pub async fn ack_key_envelopes(
        &self,
        user_id: &str,
        device_id: &str,
        up_to: i64,
    ) -> Result<u64, KeysError> {
        self.ensure_device(user_id, device_id).await?;
        let done = sqlx::query(
            "DELETE FROM key_envelopes WHERE recipient_user_id = $1 AND recipient_device_id = $2 \
             AND id <= $3 AND lease_id IS NOT NULL",
        )
        .bind(user_id)
        .bind(device_id)
        .bind(up_to)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }
}
