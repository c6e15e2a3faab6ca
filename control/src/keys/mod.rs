//! Key material the server relays or keeps without reading it: to-device key envelopes, key
//! packages (MLS-style, opaque) and versioned key backups.
//!
//! Payloads travel as standard base64 (with padding) in JSON and are stored as that text; size
//! limits apply to the decoded bytes. Every operation acts for an active device of the caller
//! (see [`Control::ensure_device`]).

mod backups;
mod envelopes;
mod packages;

pub use backups::KeyBackup;
pub use envelopes::{KeyEnvelope, NewKeyEnvelope, PendingEnvelopes};
pub use packages::{ClaimedKeyPackage, KeyPackageCount};

pub(crate) use envelopes::{MAX_ENVELOPE_BYTES, MAX_ENVELOPES_PER_PUBLISH};
pub(crate) use packages::{MAX_PACKAGE_BYTES, MAX_PACKAGES_PER_UPLOAD};

use crate::payload::{PayloadError, decoded_len};
use crate::validate::FieldErrors;
use crate::{ControlError, DevicesError};

/// Why a key operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// Invalid input; the map says which fields and why.
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// The caller's device may not act (not linked, revoked, malformed id).
    #[error(transparent)]
    Device(#[from] DevicesError),
    /// No such active device, or one the caller may not see.
    #[error("device not found")]
    DeviceNotFound {
        /// Position of the offending item in the request, when it had several.
        index: Option<usize>,
    },
    /// A payload is larger than its limit.
    #[error("payload too large")]
    PayloadTooLarge {
        /// The limit, in decoded bytes (applied to the text: [`crate::payload::max_chars`]).
        max_bytes: usize,
        /// Position of the offending item in the request, when it had several.
        index: Option<usize>,
    },
    /// The recipient device already has the maximum number of pending envelopes.
    #[error("the recipient's envelope queue is full")]
    QueueFull {
        /// Position of the first envelope for that device in the request.
        index: Option<usize>,
        /// The limit.
        max: i64,
    },
    /// The device has no key package left (and no last-resort one).
    #[error("no key package available for this device")]
    NoKeyPackage {
        /// The device that has none.
        device_id: String,
    },
    /// The device already stores the maximum number of unclaimed key packages.
    #[error("too many unclaimed key packages")]
    KeyPackageLimit {
        /// The limit.
        max: i64,
    },
    /// The backup was written against an older version than the latest.
    #[error("stale backup version")]
    StaleBackupVersion {
        /// The latest stored version (0 when there is none).
        current_version: i64,
    },
    /// The user has no backup yet.
    #[error("no key backup")]
    BackupNotFound,
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] ControlError),
}

impl KeysError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            KeysError::Invalid(_) => "invalid_request",
            KeysError::Device(e) => e.code(),
            KeysError::DeviceNotFound { .. } => "device_not_found",
            KeysError::PayloadTooLarge { .. } => "payload_too_large",
            KeysError::QueueFull { .. } => "envelope_queue_full",
            KeysError::NoKeyPackage { .. } => "no_key_package",
            KeysError::KeyPackageLimit { .. } => "key_package_limit",
            KeysError::StaleBackupVersion { .. } => "stale_backup_version",
            KeysError::BackupNotFound => "backup_not_found",
            KeysError::Storage(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for KeysError {
    fn from(e: sqlx::Error) -> Self {
        KeysError::Storage(e.into())
    }
}

/// Checks that `payload` is non-empty standard base64 within the limit of `max_bytes`
/// ([`crate::payload`]: the limit is applied to the text); returns the decoded length.
pub(crate) fn check_payload(
    payload: &str,
    max_bytes: usize,
    field: &str,
    index: Option<usize>,
) -> Result<usize, KeysError> {
    let mut errors = FieldErrors::default();
    match decoded_len(payload, max_bytes) {
        Err(PayloadError::TooLarge) => Err(KeysError::PayloadTooLarge { max_bytes, index }),
        Err(PayloadError::Malformed) => {
            errors.add(field, "must be standard base64");
            Err(KeysError::Invalid(errors))
        }
        Ok(0) => {
            errors.add(field, "must not be empty");
            Err(KeysError::Invalid(errors))
        }
        Ok(len) => Ok(len),
    }
}
