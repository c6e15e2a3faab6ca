//! Versioned key backups: opaque blobs, version 1, 2, ...; a write names the version it was
//! based on and is refused when a newer one exists (the error carries the current version).

use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

use super::{KeysError, check_payload};
use crate::Control;
use crate::validate::FieldErrors;

/// A stored backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct KeyBackup {
    /// Its version (1 for the first).
    pub version: i64,
    /// Opaque payload, standard base64; omitted in the answer to a write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// Decoded size in bytes.
    pub size_bytes: i64,
    /// The device that wrote it.
    pub created_by: String,
    /// When it was written, unix milliseconds.
    pub created_at: i64,
}

impl Control {
    /// Stores a new backup for the caller's user, as version `expected_version + 1`.
    /// `expected_version` is the latest version the device knows (0 when it knows none); when
    /// another write got there first the answer is `StaleBackupVersion { current_version }`.
    /// Payloads over the configured limit are `PayloadTooLarge`.
    pub async fn put_key_backup(
        &self,
        user_id: &str,
        device_id: &str,
        expected_version: i64,
        payload: &str,
    ) -> Result<KeyBackup, KeysError> {
        let Some(version) = expected_version
            .checked_add(1)
            .filter(|_| expected_version >= 0)
        else {
            let mut errors = FieldErrors::default();
            errors.add("expected_version", "must be 0 to 2^63 - 2");
            return Err(KeysError::Invalid(errors));
        };
        self.ensure_device(user_id, device_id).await?;
        let size = check_payload(
            payload,
            self.options().key_backup_max_bytes,
            "payload",
            None,
        )?;
        let backup = KeyBackup {
            version,
            payload: None,
            size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
            created_by: device_id.to_owned(),
            created_at: self.now(),
        };
        // One statement: the version check and the insert cannot interleave with another write
        // (two writers of the same version collide on the primary key).
        let inserted = sqlx::query(
            "INSERT INTO key_backups (user_id, version, payload, size_bytes, created_by, created_at) \
             SELECT $1, $2, $3, $4, $5, $6 \
             WHERE (SELECT COALESCE(MAX(version), 0) FROM key_backups WHERE user_id = $7) = $8 \
             ON CONFLICT (user_id, version) DO NOTHING",
        )
        .bind(user_id)
        .bind(backup.version)
        .bind(payload)
        .bind(backup.size_bytes)
        .bind(device_id)
        .bind(backup.created_at)
        .bind(user_id)
        .bind(expected_version)
        .execute(self.pool())
        .await?;
        if inserted.rows_affected() == 0 {
            let current_version = self.latest_backup_version(user_id).await?;
            return Err(KeysError::StaleBackupVersion { current_version });
        }
        Ok(backup)
    }

    /// The caller's latest backup, with its payload.
    pub async fn latest_key_backup(
        &self,
        user_id: &str,
        device_id: &str,
    ) -> Result<KeyBackup, KeysError> {
        self.ensure_device(user_id, device_id).await?;
        let row = sqlx::query(
            "SELECT version, payload, size_bytes, created_by, created_at FROM key_backups \
             WHERE user_id = $1 ORDER BY version DESC LIMIT 1",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(KeysError::BackupNotFound)?;
        Ok(KeyBackup {
            version: row.try_get("version")?,
            payload: Some(row.try_get("payload")?),
            size_bytes: row.try_get("size_bytes")?,
            created_by: row.try_get("created_by")?,
            created_at: row.try_get("created_at")?,
        })
    }

    async fn latest_backup_version(&self, user_id: &str) -> Result<i64, KeysError> {
        Ok(sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) FROM key_backups WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_one(self.pool())
        .await?)
    }
}
