//! Development seed data: the `srv_harbor` server and its channels.

use crate::admission::DEV_SERVER_ID;
use crate::communities::insert_member;
use crate::db::now_millis;
use crate::{ChannelKind, Control, ControlError, Role};

/// Owner of the seeded server (a placeholder user; dev mode admits everyone anyway).
const DEV_OWNER: &str = "dev-owner";

const DEV_CHANNELS: [(&str, &str, ChannelKind); 3] = [
    ("vc_general", "General", ChannelKind::Voice),
    ("vc_video", "Video", ChannelKind::Video),
    ("tc_lobby", "Lobby", ChannelKind::Text),
];

impl Control {
    /// Seeds server `srv_harbor` ("Harbor") with voice channel `vc_general` ("General"), video
    /// channel `vc_video` ("Video") and text channel `tc_lobby` ("Lobby"). Idempotent: existing
    /// rows are left untouched.
    pub async fn seed_dev(&self) -> Result<(), ControlError> {
        let now = now_millis();
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO servers (id, name, owner_user_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(DEV_SERVER_ID)
        .bind("Harbor")
        .bind(DEV_OWNER)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        insert_member(&mut tx, DEV_SERVER_ID, DEV_OWNER, Role::Owner, now).await?;
        for (id, name, kind) in DEV_CHANNELS {
            sqlx::query(
                "INSERT INTO channels (id, server_id, name, kind, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(DEV_SERVER_ID)
            .bind(name)
            .bind(kind.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
