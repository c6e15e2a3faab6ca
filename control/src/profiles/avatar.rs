//! Avatar images: the type is sniffed from the bytes (PNG, JPEG, WebP, GIF), the size is capped,
//! and the file is stored content-addressed (`<avatar dir>/<sha256 hex>`), so an asset id never
//! changes meaning and can be cached forever.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use utoipa::ToSchema;

use super::ProfilesError;
use crate::Control;
use crate::devices::hex;

/// A stored avatar image, as the upload answers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct AvatarAsset {
    /// SHA-256 of the bytes, lowercase hex.
    pub asset_id: String,
    /// The sniffed type: `image/png`, `image/jpeg`, `image/webp` or `image/gif`.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// Where to fetch it.
    pub url: String,
}

/// An avatar's bytes, for serving.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Avatar {
    /// SHA-256 of the bytes, lowercase hex (also the ETag).
    pub asset_id: String,
    /// The sniffed type.
    pub content_type: String,
    /// The image.
    pub bytes: Vec<u8>,
}

/// The image type of `bytes` from its magic number, if it is one we accept.
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Whether `id` looks like an asset id (64 lowercase hex digits); anything else is never a file
/// name we open.
fn is_asset_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Control {
    /// Stores `bytes` as `user_id`'s avatar and points their profile at it.
    pub async fn upload_avatar(
        &self,
        user_id: &str,
        bytes: &[u8],
    ) -> Result<AvatarAsset, ProfilesError> {
        let dir = self
            .options()
            .avatar_dir
            .clone()
            .ok_or(ProfilesError::AvatarsUnavailable)?;
        let max_bytes = self.options().avatar_max_bytes;
        if bytes.len() > max_bytes {
            return Err(ProfilesError::PayloadTooLarge { max_bytes });
        }
        let content_type = sniff_image(bytes).ok_or(ProfilesError::UnsupportedMediaType)?;
        let asset_id = hex(&Sha256::digest(bytes));
        let path = dir.join(&asset_id);
        if !tokio::fs::try_exists(&path).await? {
            tokio::fs::create_dir_all(&dir).await?;
            // Write aside, then rename: a reader never sees a half-written file.
            let partial = dir.join(format!("{asset_id}.{}.part", crate::db::new_id("up")));
            tokio::fs::write(&partial, bytes).await?;
            tokio::fs::rename(&partial, &path).await?;
        }
        let now = self.now();
        let size_bytes = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO avatar_assets (asset_id, content_type, size_bytes, uploaded_by, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (asset_id) DO NOTHING",
        )
        .bind(&asset_id)
        .bind(content_type)
        .bind(size_bytes)
        .bind(user_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        sqlx::query(
            "INSERT INTO profiles (user_id, avatar_asset_id, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET avatar_asset_id = excluded.avatar_asset_id, \
             updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(&asset_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(AvatarAsset {
            url: format!("/v1/profile/avatar/{asset_id}"),
            asset_id,
            content_type: content_type.to_owned(),
            size_bytes,
        })
    }

    /// The avatar `asset_id` (anyone may fetch it: avatars are public).
    pub async fn avatar(&self, asset_id: &str) -> Result<Avatar, ProfilesError> {
        if !is_asset_id(asset_id) {
            return Err(ProfilesError::AvatarNotFound);
        }
        let Some(dir) = self.options().avatar_dir.clone() else {
            return Err(ProfilesError::AvatarNotFound);
        };
        let row = sqlx::query("SELECT content_type FROM avatar_assets WHERE asset_id = $1")
            .bind(asset_id)
            .fetch_optional(self.pool())
            .await?
            .ok_or(ProfilesError::AvatarNotFound)?;
        let bytes = match tokio::fs::read(dir.join(asset_id)).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ProfilesError::AvatarNotFound);
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Avatar {
            asset_id: asset_id.to_owned(),
            content_type: row.try_get("content_type")?,
            bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_the_four_types() {
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff_image(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff_image(b"GIF89a..."), Some("image/gif"));
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(sniff_image(b"<svg xmlns=...>"), None);
        assert_eq!(sniff_image(b""), None);
    }

    #[test]
    fn asset_ids_are_plain_hex() {
        assert!(is_asset_id(&"a".repeat(64)));
        assert!(!is_asset_id("../../etc/passwd"));
        assert!(!is_asset_id(&"A".repeat(64)));
    }
}
