//! Linking a new device with a single-use code issued from an existing device (10 minutes).
//! Only the SHA-256 of a code is stored.

use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::{Device, DevicesError};
use crate::Control;
use crate::epochs::is_valid_principal as is_valid_id;

/// How long a link code stays redeemable.
pub const LINK_CODE_TTL_MILLIS: i64 = 10 * 60 * 1000;
/// Characters of a code (Crockford base32: no I, L, O, U).
const CODE_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Length of a code: 12 characters, 60 bits.
const CODE_LEN: usize = 12;
/// Longest device name, in characters.
const MAX_DEVICE_NAME_CHARS: usize = 64;

/// A freshly issued link code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct LinkCode {
    /// The code to enter on the new device (`XXXX-XXXX-XXXX`; dashes and case are ignored).
    pub code: String,
    /// When it stops being redeemable, unix milliseconds.
    pub expires_at: i64,
}

impl Control {
    /// Issues a single-use link code from the caller's active device. Refused with
    /// `DeviceLimitReached` when the user already has the maximum number of devices.
    pub async fn start_device_link(
        &self,
        user_id: &str,
        device_id: &str,
    ) -> Result<LinkCode, DevicesError> {
        self.ensure_device(user_id, device_id).await?;
        let limit = self.options().max_devices_per_user;
        if self.active_device_count(user_id).await? >= i64::from(limit) {
            return Err(DevicesError::DeviceLimitReached { limit });
        }
        let code = new_code();
        let now = self.now();
        let link = LinkCode {
            code: format!("{}-{}-{}", &code[0..4], &code[4..8], &code[8..12]),
            expires_at: now + LINK_CODE_TTL_MILLIS,
        };
        sqlx::query(
            "INSERT INTO device_link_codes (code_hash, user_id, issued_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash_code(&code))
        .bind(user_id)
        .bind(device_id)
        .bind(now)
        .bind(link.expires_at)
        .execute(self.pool())
        .await?;
        Ok(link)
    }

    /// Redeems `code` for the new device `device_id` of `user_id` and registers it.
    ///
    /// Refused: a malformed id or name; a device already registered (`DeviceAlreadyLinked`, or
    /// `DeviceRevoked`); a code unknown for this user (`LinkCodeNotFound`), already redeemed
    /// (`LinkCodeUsed`) or older than 10 minutes (`LinkCodeExpired`); the device cap
    /// (`DeviceLimitReached`, the code stays unused). Of two concurrent redemptions of one code,
    /// exactly one succeeds.
    pub async fn confirm_device_link(
        &self,
        user_id: &str,
        device_id: &str,
        code: &str,
        name: Option<&str>,
    ) -> Result<Device, DevicesError> {
        if !is_valid_id(device_id) {
            return Err(DevicesError::InvalidDeviceId);
        }
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        if name.is_some_and(|n| {
            n.chars().count() > MAX_DEVICE_NAME_CHARS || n.chars().any(char::is_control)
        }) {
            return Err(DevicesError::InvalidName);
        }
        if let Some(existing) = self.device(user_id, device_id).await? {
            return Err(match existing.revoked_at {
                None => DevicesError::DeviceAlreadyLinked,
                Some(_) => DevicesError::DeviceRevoked,
            });
        }
        let Some(normalized) = normalize_code(code) else {
            return Err(DevicesError::LinkCodeNotFound);
        };
        let hash = hash_code(&normalized);
        let now = self.now();

        // Write first, so SQLite takes its write lock at once (no read-to-write upgrade).
        let mut tx = self.write().await?;
        self.lock_user_devices(&mut tx, user_id).await?;
        let redeemed = sqlx::query(
            "UPDATE device_link_codes SET used_at = $1, used_by = $2 \
             WHERE code_hash = $3 AND user_id = $4 AND used_at IS NULL AND expires_at > $5",
        )
        .bind(now)
        .bind(device_id)
        .bind(&hash)
        .bind(user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if redeemed.rows_affected() == 0 {
            tx.rollback().await?;
            let row: Option<(Option<i64>, i64)> = sqlx::query_as(
                "SELECT used_at, expires_at FROM device_link_codes \
                 WHERE code_hash = $1 AND user_id = $2",
            )
            .bind(&hash)
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?;
            return Err(match row {
                None => DevicesError::LinkCodeNotFound,
                Some((Some(_), _)) => DevicesError::LinkCodeUsed,
                Some((None, _)) => DevicesError::LinkCodeExpired,
            });
        }
        let active: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM devices WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
        let limit = self.options().max_devices_per_user;
        if active >= i64::from(limit) {
            tx.rollback().await?;
            return Err(DevicesError::DeviceLimitReached { limit });
        }
        let inserted = sqlx::query(
            "INSERT INTO devices (user_id, device_id, name, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, device_id) DO NOTHING",
        )
        .bind(user_id)
        .bind(device_id)
        .bind(name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(DevicesError::DeviceAlreadyLinked);
        }
        tx.commit().await?;
        Ok(Device {
            user_id: user_id.to_owned(),
            device_id: device_id.to_owned(),
            name: name.map(str::to_owned),
            created_at: now,
            revoked_at: None,
        })
    }

    async fn active_device_count(&self, user_id: &str) -> Result<i64, DevicesError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM devices WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(self.pool())
        .await?)
    }
}

fn new_code() -> String {
    let mut rng = rand::rng();
    (0..CODE_LEN)
        .map(|_| char::from(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())]))
        .collect()
}

/// Uppercases and drops dashes and spaces; `None` unless 12 alphabet characters remain.
fn normalize_code(code: &str) -> Option<String> {
    let normalized: String = code
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (normalized.len() == CODE_LEN && normalized.bytes().all(|b| CODE_ALPHABET.contains(&b)))
        .then_some(normalized)
}

fn hash_code(normalized: &str) -> String {
    hex(&Sha256::digest(normalized.as_bytes()))
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_normalize() {
        let code = new_code();
        assert_eq!(normalize_code(&code).as_deref(), Some(code.as_str()));
        let dashed = format!("{}-{} {}", &code[0..4], &code[4..8], &code[8..]).to_lowercase();
        assert_eq!(normalize_code(&dashed).as_deref(), Some(code.as_str()));
        assert_eq!(normalize_code("ABC"), None);
        assert_eq!(normalize_code("IIIIIIIIIIII"), None);
    }
}
