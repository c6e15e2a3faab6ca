//! The append-only audit log: one row per policy change, case, action, proposal, vote, expiry
//! and lapse, written in the transaction of the change it records.

use sqlx::{AnyConnection, Row};

use super::{AuditEntry, AuditPage, ModerationError, rank};
use crate::Control;

/// Most entries per page.
const MAX_PAGE: u32 = 200;

/// Appends one entry inside `conn`'s transaction.
pub(crate) async fn record(
    conn: &mut AnyConnection,
    server_id: &str,
    actor: Option<&str>,
    kind: &str,
    subject_id: &str,
    detail: &serde_json::Value,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO moderation_audit (server_id, actor, kind, subject_id, detail, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(server_id)
    .bind(actor)
    .bind(kind)
    .bind(subject_id)
    .bind(detail.to_string())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Control {
    /// `server_id`'s audit log after `cursor` (oldest first), for roles the policy lets read it.
    pub async fn moderation_audit(
        &self,
        caller: &str,
        server_id: &str,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<AuditPage, ModerationError> {
        let role = self.moderation_role(server_id, caller).await?;
        let policy = self.policy_of(server_id).await?;
        if rank(role) < rank(policy.audit_reader_role) {
            return Err(ModerationError::Forbidden);
        }
        let after: i64 = match cursor {
            None => 0,
            Some(c) if !c.is_empty() && c.len() <= 18 && c.bytes().all(|b| b.is_ascii_digit()) => c
                .parse()
                .map_err(|_| ModerationError::invalid("cursor", "must be a cursor from a page"))?,
            Some(_) => {
                return Err(ModerationError::invalid(
                    "cursor",
                    "must be a cursor from a page",
                ));
            }
        };
        let limit = limit.unwrap_or(50);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ModerationError::invalid("limit", "must be 1-200"));
        }
        let rows = sqlx::query(
            "SELECT id, server_id, actor, kind, subject_id, detail, created_at \
             FROM moderation_audit WHERE server_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(server_id)
        .bind(after)
        .bind(i64::from(limit) + 1)
        .fetch_all(self.pool())
        .await?;
        let mut entries = rows
            .iter()
            .map(|row| {
                let detail: String = row.try_get("detail")?;
                Ok(AuditEntry {
                    seq: row.try_get("id")?,
                    server_id: row.try_get("server_id")?,
                    actor: row.try_get("actor")?,
                    kind: row.try_get("kind")?,
                    subject_id: row.try_get("subject_id")?,
                    detail: serde_json::from_str(&detail).unwrap_or_default(),
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let next_cursor = (entries.len() > limit as usize).then(|| {
            entries.truncate(limit as usize);
            entries
                .last()
                .map(|e| e.seq.to_string())
                .unwrap_or_default()
        });
        Ok(AuditPage {
            entries,
            next_cursor,
        })
    }
}
