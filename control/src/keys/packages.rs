//! Key packages (MLS-style, opaque): a device uploads a stock, other devices claim them one at a
//! time. A claim is atomic (two claimers never get the same package); when a device's stock is
//! empty, its last-resort package (at most one, replaced on upload) is handed out again.

use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

use super::{KeysError, check_payload};
use crate::Control;
use crate::validate::FieldErrors;

/// Most packages (including the last-resort one) per upload.
pub const MAX_PACKAGES_PER_UPLOAD: usize = 100;
/// Most unclaimed packages a device may store.
pub const MAX_STORED_PACKAGES: i64 = 1000;
/// Largest package: 16 KiB decoded.
pub const MAX_PACKAGE_BYTES: usize = 16 * 1024;
/// Attempts at claiming before giving up on a contended device (each loses only to another
/// claimer that got a package).
const CLAIM_ATTEMPTS: usize = 16;

/// A claimed package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ClaimedKeyPackage {
    /// The package's user.
    pub user_id: String,
    /// The package's device.
    pub device_id: String,
    /// Opaque package, standard base64.
    pub package: String,
    /// Whether this is the device's last-resort package (it stays available).
    pub last_resort: bool,
}

/// How many packages a device has left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct KeyPackageCount {
    /// The device.
    pub device_id: String,
    /// Unclaimed packages, the last-resort one excluded.
    pub count: i64,
    /// Whether a last-resort package is stored.
    pub last_resort: bool,
}

impl Control {
    /// Stores packages for the caller's device; `last_resort`, when given, replaces the
    /// device's last-resort package. At most 100 in all per call.
    pub async fn upload_key_packages(
        &self,
        user_id: &str,
        device_id: &str,
        packages: &[String],
        last_resort: Option<&str>,
    ) -> Result<KeyPackageCount, KeysError> {
        if packages.len() > MAX_PACKAGES_PER_UPLOAD
            || (packages.is_empty() && last_resort.is_none())
        {
            let mut errors = FieldErrors::default();
            errors.add(
                "packages",
                "must hold at most 100 packages, and at least one package or a last_resort",
            );
            return Err(KeysError::Invalid(errors));
        }
        self.ensure_device(user_id, device_id).await?;
        for (index, package) in packages.iter().enumerate() {
            check_payload(package, MAX_PACKAGE_BYTES, "packages", Some(index))?;
        }
        if let Some(package) = last_resort {
            check_payload(package, MAX_PACKAGE_BYTES, "last_resort", None)?;
        }
        let before = self.key_package_count(user_id, device_id).await?;
        if before.count + i64::try_from(packages.len()).unwrap_or(i64::MAX) > MAX_STORED_PACKAGES {
            return Err(KeysError::KeyPackageLimit {
                max: MAX_STORED_PACKAGES,
            });
        }
        let now = self.now();
        let mut tx = self.write().await?;
        if let Some(package) = last_resort {
            sqlx::query(
                "DELETE FROM key_packages WHERE user_id = $1 AND device_id = $2 AND last_resort = 1",
            )
            .bind(user_id)
            .bind(device_id)
            .execute(&mut *tx)
            .await?;
            insert_package(&mut tx, user_id, device_id, package, true, now).await?;
        }
        for package in packages {
            insert_package(&mut tx, user_id, device_id, package, false, now).await?;
        }
        tx.commit().await?;
        self.key_package_count(user_id, device_id).await
    }

    /// Claims one package of each target device: `device_id` alone, or every active device of
    /// `target_user` when `None`. The caller must be an active device and see the target user
    /// (`DeviceNotFound` otherwise). A device with nothing left is `NoKeyPackage`.
    pub async fn claim_key_packages(
        &self,
        user_id: &str,
        caller_device: &str,
        target_user: &str,
        device_id: Option<&str>,
    ) -> Result<Vec<ClaimedKeyPackage>, KeysError> {
        self.ensure_device(user_id, caller_device).await?;
        if !self.can_see_user(user_id, target_user).await? {
            return Err(KeysError::DeviceNotFound { index: None });
        }
        let devices: Vec<String> = match device_id {
            Some(device) => {
                if !self.is_active_device(target_user, device).await? {
                    return Err(KeysError::DeviceNotFound { index: None });
                }
                vec![device.to_owned()]
            }
            None => self
                .devices_of(target_user)
                .await?
                .into_iter()
                .map(|d| d.device_id)
                .collect(),
        };
        let mut claimed = Vec::with_capacity(devices.len());
        for device in devices {
            claimed.push(self.claim_one(target_user, &device).await?);
        }
        Ok(claimed)
    }

    /// The caller device's stock.
    pub async fn key_package_count(
        &self,
        user_id: &str,
        device_id: &str,
    ) -> Result<KeyPackageCount, KeysError> {
        self.ensure_device(user_id, device_id).await?;
        let rows = sqlx::query(
            "SELECT last_resort, COUNT(*) AS n FROM key_packages \
             WHERE user_id = $1 AND device_id = $2 GROUP BY last_resort",
        )
        .bind(user_id)
        .bind(device_id)
        .fetch_all(self.pool())
        .await?;
        let mut count = KeyPackageCount {
            device_id: device_id.to_owned(),
            count: 0,
            last_resort: false,
        };
        for row in rows {
            let last_resort: i64 = row.try_get("last_resort")?;
            let n: i64 = row.try_get("n")?;
            if last_resort == 1 {
                count.last_resort = n > 0;
            } else {
                count.count = n;
            }
        }
        Ok(count)
    }

    async fn claim_one(
        &self,
        user_id: &str,
        device_id: &str,
    ) -> Result<ClaimedKeyPackage, KeysError> {
        let claimed = |package: String, last_resort: bool| ClaimedKeyPackage {
            user_id: user_id.to_owned(),
            device_id: device_id.to_owned(),
            package,
            last_resort,
        };
        for _ in 0..CLAIM_ATTEMPTS {
            let candidate: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM key_packages WHERE user_id = $1 AND device_id = $2 \
                 AND last_resort = 0 ORDER BY id LIMIT 1",
            )
            .bind(user_id)
            .bind(device_id)
            .fetch_optional(self.pool())
            .await?;
            let Some(id) = candidate else { break };
            // The delete is the claim: of two claimers of one row, only one deletes it.
            let package: Option<String> =
                sqlx::query_scalar("DELETE FROM key_packages WHERE id = $1 RETURNING package")
                    .bind(id)
                    .fetch_optional(self.pool())
                    .await?;
            if let Some(package) = package {
                return Ok(claimed(package, false));
            }
        }
        let last_resort: Option<String> = sqlx::query_scalar(
            "SELECT package FROM key_packages WHERE user_id = $1 AND device_id = $2 \
             AND last_resort = 1",
        )
        .bind(user_id)
        .bind(device_id)
        .fetch_optional(self.pool())
        .await?;
        match last_resort {
            Some(package) => Ok(claimed(package, true)),
            None => Err(KeysError::NoKeyPackage {
                device_id: device_id.to_owned(),
            }),
        }
    }
}

async fn insert_package(
    tx: &mut sqlx::AnyConnection,
    user_id: &str,
    device_id: &str,
    package: &str,
    last_resort: bool,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO key_packages (user_id, device_id, package, last_resort, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user_id)
    .bind(device_id)
    .bind(package)
    .bind(i64::from(last_resort))
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}
