//! Public profiles: display name, status and avatar; batch lookup bounded to users the viewer
//! shares a server with.

mod avatar;

pub use avatar::{Avatar, AvatarAsset};
#[cfg(feature = "fuzzing")]
pub use avatar::sniff_image;

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use utoipa::ToSchema;

use crate::epochs::is_valid_principal;
use crate::validate::FieldErrors;
use crate::{Control, ControlError};

/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;
/// Longest status, in characters.
pub const MAX_STATUS_CHARS: usize = 140;
/// Most ids in one batch lookup.
pub const MAX_BATCH_IDS: usize = 100;

/// A user's public profile. Users who never set one have all fields `null`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Profile {
    /// The user.
    pub user_id: String,
    /// Display name, 1-64 characters.
    pub display_name: Option<String>,
    /// Status line, 1-140 characters.
    pub status: Option<String>,
    /// The avatar image's id; fetch it at `/v1/profile/avatar/{asset_id}`.
    pub avatar_asset_id: Option<String>,
    /// Last change, unix milliseconds.
    pub updated_at: Option<i64>,
}

/// Input of [`Control::update_profile`]: the new values (`None` clears a field).
#[derive(Clone, Debug, Default)]
pub struct ProfileUpdate {
    /// Display name, 1-64 characters after trimming; no control characters.
    pub display_name: Option<String>,
    /// Status, 1-140 characters after trimming (empty clears it); no control characters.
    pub status: Option<String>,
}

/// Why a profile operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProfilesError {
    /// Invalid input; the map says which fields and why.
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// No avatar directory is configured.
    #[error("avatar uploads are not available on this server")]
    AvatarsUnavailable,
    /// The image is larger than the configured limit.
    #[error("image too large")]
    PayloadTooLarge {
        /// The limit, in bytes.
        max_bytes: usize,
    },
    /// The bytes are not a PNG, JPEG, WebP or GIF image.
    #[error("unsupported image type (PNG, JPEG, WebP or GIF)")]
    UnsupportedMediaType,
    /// No such avatar.
    #[error("avatar not found")]
    AvatarNotFound,
    /// Reading or writing the avatar file failed.
    #[error("avatar storage failed: {0}")]
    Io(#[from] std::io::Error),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] ControlError),
}

impl ProfilesError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ProfilesError::Invalid(_) => "invalid_request",
            ProfilesError::AvatarsUnavailable => "avatars_unavailable",
            ProfilesError::PayloadTooLarge { .. } => "payload_too_large",
            ProfilesError::UnsupportedMediaType => "unsupported_media_type",
            ProfilesError::AvatarNotFound => "avatar_not_found",
            ProfilesError::Io(_) | ProfilesError::Storage(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for ProfilesError {
    fn from(e: sqlx::Error) -> Self {
        ProfilesError::Storage(e.into())
    }
}

impl Control {
    /// `user_id`'s profile (empty when never set).
    pub async fn profile(&self, user_id: &str) -> Result<Profile, ControlError> {
        let row = sqlx::query(
            "SELECT user_id, display_name, status, avatar_asset_id, updated_at FROM profiles \
             WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(row) => profile_from_row(&row),
            None => Ok(empty_profile(user_id)),
        }
    }

    /// Replaces `user_id`'s display name and status (the avatar is kept).
    pub async fn update_profile(
        &self,
        user_id: &str,
        update: ProfileUpdate,
    ) -> Result<Profile, ProfilesError> {
        let mut errors = FieldErrors::default();
        let display_name = check_text(
            &mut errors,
            "display_name",
            update.display_name.as_deref(),
            MAX_DISPLAY_NAME_CHARS,
        );
        let status = check_text(
            &mut errors,
            "status",
            update.status.as_deref(),
            MAX_STATUS_CHARS,
        );
        errors.into_result().map_err(ProfilesError::Invalid)?;
        sqlx::query(
            "INSERT INTO profiles (user_id, display_name, status, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE \
             SET display_name = excluded.display_name, status = excluded.status, \
             updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(display_name)
        .bind(status)
        .bind(self.now())
        .execute(self.pool())
        .await?;
        Ok(self.profile(user_id).await?)
    }

    /// Profiles of `ids` that `viewer` may see (themself, and users sharing a server with
    /// them), in the order asked, duplicates dropped; others are left out. 1-100 valid ids.
    pub async fn profiles_batch(
        &self,
        viewer: &str,
        ids: &[String],
    ) -> Result<Vec<Profile>, ProfilesError> {
        let mut errors = FieldErrors::default();
        if ids.is_empty() || ids.len() > MAX_BATCH_IDS {
            errors.add("ids", "must list 1-100 user ids");
        } else if !ids.iter().all(|id| is_valid_principal(id)) {
            errors.add("ids", "each id must match [A-Za-z0-9_.-]{1,64}");
        }
        errors.into_result().map_err(ProfilesError::Invalid)?;
        let mut unique: Vec<&str> = Vec::with_capacity(ids.len());
        for id in ids {
            if !unique.contains(&id.as_str()) {
                unique.push(id);
            }
        }
        let placeholders = (0..unique.len())
            .map(|i| format!("${}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
            "SELECT DISTINCT b.user_id FROM members a JOIN members b ON a.server_id = b.server_id \
             WHERE a.user_id = $1 AND b.user_id IN ({placeholders})"
        )))
        .bind(viewer);
        for id in &unique {
            query = query.bind(*id);
        }
        let visible = query.fetch_all(self.pool()).await?;
        let mut profiles = Vec::new();
        for id in unique {
            if id == viewer || visible.iter().any(|v| v == id) {
                profiles.push(self.profile(id).await?);
            }
        }
        Ok(profiles)
    }
}

/// Checks an optional text as sent (length, control characters), then trims it; empty becomes
/// `None`.
fn check_text(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<&str>,
    max_chars: usize,
) -> Option<String> {
    let value = value?;
    if value.chars().count() > max_chars {
        errors.add(field, format!("must be at most {max_chars} characters"));
    } else if value.chars().any(char::is_control) {
        errors.add(field, "must not contain control characters");
    }
    Some(value.trim().to_owned()).filter(|v| !v.is_empty())
}

fn empty_profile(user_id: &str) -> Profile {
    Profile {
        user_id: user_id.to_owned(),
        display_name: None,
        status: None,
        avatar_asset_id: None,
        updated_at: None,
    }
}

fn profile_from_row(row: &AnyRow) -> Result<Profile, ControlError> {
    Ok(Profile {
        user_id: row.try_get("user_id")?,
        display_name: row.try_get("display_name")?,
        status: row.try_get("status")?,
        avatar_asset_id: row.try_get("avatar_asset_id")?,
        updated_at: row.try_get("updated_at")?,
    })
}
