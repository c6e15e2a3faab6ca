//! Devices of a user: implicit registration of the first device, linking further devices with
//! single-use codes, the per-user cap, listing and revocation.
//!
//! Registration rule ([`Control::ensure_device`]): a `(user, device)` pair from an access token
//! is usable when its row is active. An unknown device is registered on the spot only when the
//! user has no active device at all (their first device, or every earlier one was revoked);
//! otherwise it must be linked with a code from an active device
//! ([`Control::start_device_link`] / [`Control::confirm_device_link`]). A revoked device id
//! never comes back.

mod link;
mod removals;

pub use link::LinkCode;
pub(crate) use link::hex;
pub(crate) use removals::Removal;

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use utoipa::ToSchema;

use crate::epochs::is_valid_principal as is_valid_id;
use crate::outbox::{Audience, kind};
use crate::{Control, ControlError};

/// A device of a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Device {
    /// The user it belongs to.
    pub user_id: String,
    /// Its id (the `did` claim of its access tokens).
    pub device_id: String,
    /// Optional display name, e.g. "Alice's phone".
    pub name: Option<String>,
    /// Registration time, unix milliseconds.
    pub created_at: i64,
    /// When it was revoked; `null` while active.
    pub revoked_at: Option<i64>,
}

/// Why a device operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum DevicesError {
    /// The device id is malformed.
    #[error("invalid device id")]
    InvalidDeviceId,
    /// The device name is too long or holds control characters.
    #[error("invalid device name")]
    InvalidName,
    /// The caller's device is not registered and the user already has active devices: it must
    /// be linked with a code first.
    #[error("this device is not linked to the account")]
    DeviceNotLinked,
    /// The caller's device was revoked.
    #[error("this device was revoked")]
    DeviceRevoked,
    /// No such active device of the user.
    #[error("device not found")]
    DeviceNotFound,
    /// The user already has the maximum number of active devices.
    #[error("device limit reached")]
    DeviceLimitReached {
        /// The configured limit.
        limit: u32,
    },
    /// The device being linked is already registered.
    #[error("the device is already linked")]
    DeviceAlreadyLinked,
    /// No such link code for this user.
    #[error("link code not found")]
    LinkCodeNotFound,
    /// The link code was already redeemed.
    #[error("the link code was already used")]
    LinkCodeUsed,
    /// The link code's 10 minutes have passed.
    #[error("the link code has expired")]
    LinkCodeExpired,
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] ControlError),
}

impl DevicesError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            DevicesError::InvalidDeviceId | DevicesError::InvalidName => "invalid_request",
            DevicesError::DeviceNotLinked => "device_not_linked",
            DevicesError::DeviceRevoked => "device_revoked",
            DevicesError::DeviceNotFound => "device_not_found",
            DevicesError::DeviceLimitReached { .. } => "device_limit_reached",
            DevicesError::DeviceAlreadyLinked => "device_already_linked",
            DevicesError::LinkCodeNotFound => "link_code_not_found",
            DevicesError::LinkCodeUsed => "link_code_used",
            DevicesError::LinkCodeExpired => "link_code_expired",
            DevicesError::Storage(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for DevicesError {
    fn from(e: sqlx::Error) -> Self {
        DevicesError::Storage(e.into())
    }
}

impl Control {
    /// The caller's device, registering it if it is the user's first active one (see the module
    /// docs). Every device-scoped operation starts here.
    pub async fn ensure_device(
        &self,
        user_id: &str,
        device_id: &str,
    ) -> Result<Device, DevicesError> {
        if !is_valid_id(device_id) {
            return Err(DevicesError::InvalidDeviceId);
        }
        if let Some(device) = self.device(user_id, device_id).await? {
            return match device.revoked_at {
                None => Ok(device),
                Some(_) => Err(DevicesError::DeviceRevoked),
            };
        }
        let mut tx = self.write().await?;
        self.lock_user_devices(&mut tx, user_id).await?;
        sqlx::query(
            "INSERT INTO devices (user_id, device_id, name, created_at) \
             SELECT $1, $2, NULL, $3 WHERE NOT EXISTS \
             (SELECT 1 FROM devices WHERE user_id = $4 AND revoked_at IS NULL) \
             ON CONFLICT (user_id, device_id) DO NOTHING",
        )
        .bind(user_id)
        .bind(device_id)
        .bind(self.now())
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        match self.device(user_id, device_id).await? {
            Some(device) if device.revoked_at.is_none() => Ok(device),
            Some(_) => Err(DevicesError::DeviceRevoked),
            None => Err(DevicesError::DeviceNotLinked),
        }
    }

    /// The one decision "may this device act at all", made for every authenticated request,
    /// realtime session and join: a revoked device is refused (`DeviceRevoked`) everywhere and
    /// for good. A device never seen passes here; routes that need a registered device go on
    /// to [`Control::ensure_device`].
    pub async fn authorize_device(
        &self,
        user_id: &str,
        device_id: &str,
    ) -> Result<(), DevicesError> {
        let revoked: Option<Option<i64>> = sqlx::query_scalar(
            "SELECT revoked_at FROM devices WHERE user_id = $1 AND device_id = $2",
        )
        .bind(user_id)
        .bind(device_id)
        .fetch_optional(self.pool())
        .await?;
        match revoked {
            Some(Some(_)) => Err(DevicesError::DeviceRevoked),
            _ => Ok(()),
        }
    }

    /// Active devices of `user_id`, oldest first.
    pub async fn devices_of(&self, user_id: &str) -> Result<Vec<Device>, ControlError> {
        let rows = sqlx::query(
            "SELECT user_id, device_id, name, created_at, revoked_at FROM devices \
             WHERE user_id = $1 AND revoked_at IS NULL \
             ORDER BY created_at, device_id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(device_from_row).collect()
    }

    /// Revokes `device_id` of `user_id` (the caller's own device or another of theirs): it can no
    /// longer authenticate device-scoped calls, its pending key envelopes, key packages and
    /// link codes are deleted, and every channel group it is in gets a removal proposal. An
    /// unknown or already revoked device is `DeviceNotFound`.
    pub async fn revoke_device(
        &self,
        user_id: &str,
        device_id: &str,
    ) -> Result<Device, DevicesError> {
        if !is_valid_id(device_id) {
            return Err(DevicesError::DeviceNotFound);
        }
        let now = self.now();
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE devices SET revoked_at = $1 WHERE user_id = $2 AND device_id = $3 \
             AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .bind(device_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(DevicesError::DeviceNotFound);
        }
        for table in [
            "DELETE FROM key_envelopes WHERE recipient_user_id = $1 AND recipient_device_id = $2",
            "DELETE FROM key_packages WHERE user_id = $1 AND device_id = $2",
            "DELETE FROM device_link_codes WHERE user_id = $1 AND issued_by = $2",
        ] {
            sqlx::query(table)
                .bind(user_id)
                .bind(device_id)
                .execute(&mut *tx)
                .await?;
        }
        // Ends the device's live sessions on every node (realtime, signaling) and tells the
        // user's other devices.
        tx.append(
            kind::DEVICE_REVOKED,
            Audience::User { user_id },
            &serde_json::json!({ "user_id": user_id, "device_id": device_id, "revoked_at": now }),
            now,
        )
        .await?;
        tx.commit().await?;
        self.propose_removals(Removal::Device { user_id, device_id }, "device revoked")
            .await;
        self.device(user_id, device_id)
            .await?
            .ok_or(DevicesError::DeviceNotFound)
    }

    /// Serializes changes to one user's set of devices until `tx` ends, so the first-device
    /// rule and the cap hold under concurrency. PostgreSQL: a transaction-scoped advisory lock
    /// on the user. SQLite needs none: its writers are serialized, and every caller writes
    /// before it reads.
    pub(crate) async fn lock_user_devices(
        &self,
        tx: &mut sqlx::AnyConnection,
        user_id: &str,
    ) -> Result<(), sqlx::Error> {
        if self.backend == crate::db::Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext('openchat.devices.' || $1))")
                .bind(user_id)
                .execute(tx)
                .await?;
        }
        Ok(())
    }

    /// The device row, active or revoked.
    pub(crate) async fn device(
        &self,
        user_id: &str,
        device_id: &str,
    ) -> Result<Option<Device>, ControlError> {
        let row = sqlx::query(
            "SELECT user_id, device_id, name, created_at, revoked_at FROM devices \
             WHERE user_id = $1 AND device_id = $2",
        )
        .bind(user_id)
        .bind(device_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(device_from_row).transpose()
    }

    /// Whether `(user_id, device_id)` is an active device.
    pub(crate) async fn is_active_device(
        &self,
        user_id: &str,
        device_id: &str,
    ) -> Result<bool, ControlError> {
        Ok(is_valid_id(user_id)
            && is_valid_id(device_id)
            && self
                .device(user_id, device_id)
                .await?
                .is_some_and(|d| d.revoked_at.is_none()))
    }
}

fn device_from_row(row: &AnyRow) -> Result<Device, ControlError> {
    Ok(Device {
        user_id: row.try_get("user_id")?,
        device_id: row.try_get("device_id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}
