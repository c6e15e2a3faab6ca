//! What keeps a user from acting in a server now: a ban, or a timeout. Checked when a join
//! ticket is asked for, a room is entered or re-checked, a message is sent and a commit is made.
//! Server mutes are restrictions too, applied to live rooms by signaling, and a timed mute
//! lapses on its own: [`Control::lapse_restrictions`] lifts due ones with their events.

use serde_json::json;
use sqlx::Row;

use super::audit;
use crate::outbox::{Audience, kind};
use crate::{Control, ControlError};

/// Why a user may not act in a server now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restriction {
    /// Banned, until this unix millisecond (`None`: for good).
    Banned { until: Option<i64> },
    /// Timed out until this unix millisecond (`None`: until lifted).
    TimedOut { until: Option<i64> },
}

impl Restriction {
    /// Stable code of the refusal.
    pub fn code(self) -> &'static str {
        match self {
            Restriction::Banned { .. } => "banned",
            Restriction::TimedOut { .. } => "timed_out",
        }
    }

    /// When it ends (`None`: not on its own).
    pub fn until(self) -> Option<i64> {
        match self {
            Restriction::Banned { until } | Restriction::TimedOut { until } => until,
        }
    }
}

impl Control {
    /// The ban or timeout that keeps `user_id` from acting in `server_id` now, if any (a ban
    /// first).
    pub async fn restriction_of(
        &self,
        server_id: &str,
        user_id: &str,
    ) -> Result<Option<Restriction>, ControlError> {
        let now = self.now();
        let ban: Option<Option<i64>> = sqlx::query_scalar(
            "SELECT until FROM bans WHERE server_id = $1 AND user_id = $2 \
             AND (until IS NULL OR until > $3)",
        )
        .bind(server_id)
        .bind(user_id)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        if let Some(until) = ban {
            return Ok(Some(Restriction::Banned { until }));
        }
        let timeout: Option<Option<i64>> = sqlx::query_scalar(
            "SELECT until FROM moderation_restrictions WHERE server_id = $1 AND user_id = $2 \
             AND kind = 'timeout' AND (until IS NULL OR until > $3)",
        )
        .bind(server_id)
        .bind(user_id)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        Ok(timeout.map(|until| Restriction::TimedOut { until }))
    }

    /// The restriction of `user_id` in the server of `channel_id`, if any.
    pub async fn restriction_in_channel(
        &self,
        channel_id: &str,
        user_id: &str,
    ) -> Result<Option<Restriction>, ControlError> {
        let server: Option<String> =
            sqlx::query_scalar("SELECT server_id FROM channels WHERE id = $1")
                .bind(channel_id)
                .fetch_optional(self.pool())
                .await?;
        match server {
            Some(server_id) => self.restriction_of(&server_id, user_id).await,
            None => Ok(None),
        }
    }

    /// Whether `user_id` is server-muted in `server_id` now (a session entering a room starts
    /// muted then).
    pub async fn server_muted(&self, server_id: &str, user_id: &str) -> Result<bool, ControlError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM moderation_restrictions WHERE server_id = $1 AND user_id = $2 \
             AND kind = 'mute' AND (until IS NULL OR until > $3)",
        )
        .bind(server_id)
        .bind(user_id)
        .bind(self.now())
        .fetch_optional(self.pool())
        .await?;
        Ok(found.is_some())
    }

    /// Lifts every mute and timeout whose time has come, each with its `moderation_action`
    /// event (`unmute` / `end_timeout`) and an audit entry. Several nodes may run it at once:
    /// each row is lifted by exactly one of them. Returns how many it lifted.
    pub async fn lapse_restrictions(&self) -> Result<usize, ControlError> {
        let now = self.now();
        // A read first: most calls find nothing, and need not queue for the writer.
        let due: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM moderation_restrictions WHERE until IS NOT NULL AND until <= $1 LIMIT 1",
        )
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        if due.is_none() {
            return Ok(0);
        }
        let mut tx = self.write().await?;
        let rows = sqlx::query(
            "DELETE FROM moderation_restrictions WHERE until IS NOT NULL AND until <= $1 \
             RETURNING server_id, user_id, kind, action_id",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        for row in &rows {
            let server_id: String = row.try_get("server_id")?;
            let user_id: String = row.try_get("user_id")?;
            let restriction: String = row.try_get("kind")?;
            let action_id: String = row.try_get("action_id")?;
            let lifted = if restriction == "mute" {
                "unmute"
            } else {
                "end_timeout"
            };
            let payload = json!({
                "server_id": server_id, "user_id": user_id, "action": lifted,
                "lapsed": true, "action_id": action_id,
            });
            tx.append(
                kind::MODERATION_ACTION,
                Audience::User { user_id: &user_id },
                &payload,
                now,
            )
            .await?;
            audit::record(
                &mut tx,
                &server_id,
                None,
                "restriction_lapsed",
                &action_id,
                &json!({ "user_id": user_id, "restriction": restriction }),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }
}
