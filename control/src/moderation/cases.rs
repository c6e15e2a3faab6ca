//! Cases: opened by any member about another, optionally with a report bundle. The server cannot
//! read messages, so the reporter discloses what it reports; the server checks that each
//! reported envelope exists in the case's server and that the reporter was a member of its
//! channel at its epoch, and keeps the bundle for those the policy lets read it.

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{
    ActionRecord, Case, CasePage, CaseQuery, CaseState, ModerationError, NewCase, ProposalRecord,
    ReportBundle, audit, rank,
};
use crate::db::new_id;
use crate::validate::{FieldErrors, check_id};
use crate::{Control, Role};

/// Longest reason, in characters.
const MAX_REASON_CHARS: usize = 500;
/// Most messages in one report.
const MAX_REPORTED: usize = 50;
/// Longest disclosed plaintext and key material, in characters.
const MAX_PLAINTEXT_CHARS: usize = 16_384;
const MAX_KEY_MATERIAL_CHARS: usize = 8_192;
/// Most cases per page.
const MAX_PAGE: u32 = 100;

/// Checks a reason as sent: at most 500 characters, not blank, no control characters (what its
/// schema's pattern says).
pub(crate) fn check_reason(errors: &mut FieldErrors, field: &str, reason: &str) {
    if reason.trim().is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        errors.add(field, "must be 1-500 characters");
    } else if reason.chars().any(char::is_control) {
        errors.add(field, "must not contain control characters");
    }
}

/// Checks a user id ([`openchat_protocol::Alphabet::PRINCIPAL`]).
fn check_user_id(errors: &mut FieldErrors, field: &str, id: &str) {
    if !openchat_protocol::Alphabet::PRINCIPAL.accepts(id) {
        errors.add(
            field,
            format!(
                "must match {}",
                openchat_protocol::Alphabet::PRINCIPAL.pattern()
            ),
        );
    }
}

fn check_bundle(errors: &mut FieldErrors, bundle: &ReportBundle) {
    if bundle.messages.is_empty() || bundle.messages.len() > MAX_REPORTED {
        errors.add("report.messages", "must hold 1-50 messages");
    }
    for (i, m) in bundle.messages.iter().enumerate() {
        check_id(
            errors,
            &format!("report.messages[{i}].message_id"),
            &m.message_id,
        );
        if m.plaintext
            .as_ref()
            .is_some_and(|p| p.chars().count() > MAX_PLAINTEXT_CHARS)
        {
            errors.add(
                &format!("report.messages[{i}].plaintext"),
                "must be at most 16384 characters",
            );
        }
        if m.key_material
            .as_ref()
            .is_some_and(|k| k.chars().count() > MAX_KEY_MATERIAL_CHARS)
        {
            errors.add(
                &format!("report.messages[{i}].key_material"),
                "must be at most 8192 characters",
            );
        }
    }
}

impl Control {
    /// Opens a case about `new.target_user_id` in `new.server_id` (any member may; a report
    /// bundle is checked as the module says).
    pub async fn open_case(&self, caller: &str, new: NewCase) -> Result<Case, ModerationError> {
        let mut errors = FieldErrors::default();
        check_id(&mut errors, "server_id", &new.server_id);
        check_user_id(&mut errors, "target_user_id", &new.target_user_id);
        check_reason(&mut errors, "reason", &new.reason);
        if let Some(bundle) = &new.report {
            check_bundle(&mut errors, bundle);
        }
        errors.into_result().map_err(ModerationError::Invalid)?;
        if new.target_user_id == caller {
            return Err(ModerationError::InvalidTarget(
                "a case cannot be about yourself",
            ));
        }
        self.moderation_role(&new.server_id, caller).await?;
        let policy = self.policy_of(&new.server_id).await?;
        if let Some(bundle) = &new.report {
            let discloses = bundle
                .messages
                .iter()
                .any(|m| m.plaintext.is_some() || m.key_material.is_some());
            if discloses && !policy.allow_disclosure {
                return Err(ModerationError::DisclosureNotAllowed);
            }
            for m in &bundle.messages {
                self.check_reported(&new.server_id, caller, &m.message_id)
                    .await?;
            }
        }
        let now = self.now();
        let case_id = new_id("case");
        let bundle_text = new
            .report
            .as_ref()
            .map(|b| serde_json::to_string(b).unwrap_or_default());
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO moderation_cases (id, server_id, target_user_id, opened_by, reason, \
             state, bundle, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $7)",
        )
        .bind(&case_id)
        .bind(&new.server_id)
        .bind(&new.target_user_id)
        .bind(caller)
        .bind(new.reason.trim())
        .bind(&bundle_text)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let reported = new.report.as_ref().map_or(0, |b| b.messages.len());
        audit::record(
            &mut tx,
            &new.server_id,
            Some(caller),
            "case_opened",
            &case_id,
            &json!({ "target_user_id": new.target_user_id, "reason": new.reason.trim(),
                     "reported_messages": reported }),
            now,
        )
        .await?;
        tx.commit().await?;
        self.case(caller, &case_id).await
    }

    /// A reported envelope must be in a channel of `server_id`, and the reporter must have
    /// been a member of that channel at its epoch.
    async fn check_reported(
        &self,
        server_id: &str,
        reporter: &str,
        message_id: &str,
    ) -> Result<(), ModerationError> {
        let row = sqlx::query(
            "SELECT m.channel_id, m.epoch FROM messages m JOIN channels c ON c.id = m.channel_id \
             WHERE m.id = $1 AND c.server_id = $2",
        )
        .bind(message_id)
        .bind(server_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| ModerationError::MessageNotFound(message_id.to_owned()))?;
        let channel_id: String = row.try_get("channel_id")?;
        let epoch: i64 = row.try_get("epoch")?;
        let member: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM channel_device_spans WHERE channel_id = $1 AND user_id = $2 \
             AND joined_epoch <= $3 AND (left_epoch IS NULL OR left_epoch > $3) LIMIT 1",
        )
        .bind(&channel_id)
        .bind(reporter)
        .bind(epoch)
        .fetch_optional(self.pool())
        .await?;
        if member.is_none() {
            return Err(ModerationError::NotMemberAtEpoch(message_id.to_owned()));
        }
        Ok(())
    }

    /// One case with its actions and proposals: moderators (the policy's bundle readers see
    /// its bundle) and its reporter (who sees their own bundle).
    pub async fn case(&self, caller: &str, case_id: &str) -> Result<Case, ModerationError> {
        let row = sqlx::query(
            "SELECT id, server_id, target_user_id, opened_by, reason, state, bundle, created_at, \
             updated_at FROM moderation_cases WHERE id = $1",
        )
        .bind(case_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(ModerationError::CaseNotFound)?;
        let server_id: String = row.try_get("server_id")?;
        let Some(role) = self.member_role(&server_id, caller).await? else {
            return Err(ModerationError::CaseNotFound);
        };
        let policy = self.policy_of(&server_id).await?;
        let opened_by: String = row.try_get("opened_by")?;
        if !role.can_manage() && opened_by != caller {
            return Err(ModerationError::CaseNotFound);
        }
        let reads_bundle = opened_by == caller || rank(role) >= rank(policy.bundle_reader_role);
        let mut case = case_from_row(&row, reads_bundle)?;
        case.actions = self.actions_of(case_id).await?;
        case.proposals = self.proposals_of(case_id).await?;
        Ok(case)
    }

    /// Cases of a server, newest first: all of them for moderators, one's own for members.
    pub async fn cases(&self, caller: &str, query: CaseQuery) -> Result<CasePage, ModerationError> {
        let role = self.moderation_role(&query.server_id, caller).await?;
        let policy = self.policy_of(&query.server_id).await?;
        let limit = query.limit.unwrap_or(50);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ModerationError::invalid("limit", "must be 1-100"));
        }
        let (before_at, before_id) = match &query.cursor {
            None => (i64::MAX, String::new()),
            Some(c) => parse_cursor(c).ok_or_else(|| {
                ModerationError::invalid("cursor", "must be a cursor from a page")
            })?,
        };
        let rows = sqlx::query(
            "SELECT id, server_id, target_user_id, opened_by, reason, state, bundle, created_at, \
             updated_at FROM moderation_cases WHERE server_id = $1 \
             AND ($2 = 1 OR opened_by = $3) \
             AND ($4 = '' OR state = $4) AND ($5 = '' OR target_user_id = $5) \
             AND (created_at < $6 OR (created_at = $6 AND ($7 = '' OR id < $7))) \
             ORDER BY created_at DESC, id DESC LIMIT $8",
        )
        .bind(&query.server_id)
        .bind(i64::from(role.can_manage()))
        .bind(caller)
        .bind(query.state.map_or("", |s| match s {
            CaseState::Open => "open",
            CaseState::Actioned => "actioned",
        }))
        .bind(query.target_user_id.as_deref().unwrap_or(""))
        .bind(before_at)
        .bind(&before_id)
        .bind(i64::from(limit) + 1)
        .fetch_all(self.pool())
        .await?;
        let mut cases = rows
            .iter()
            .map(|row| {
                let opened_by: String = row.try_get("opened_by")?;
                let reads = opened_by == caller || rank(role) >= rank(policy.bundle_reader_role);
                case_from_row(row, reads)
            })
            .collect::<Result<Vec<_>, ModerationError>>()?;
        let next_cursor = (cases.len() > limit as usize).then(|| {
            cases.truncate(limit as usize);
            cases
                .last()
                .map(|c| format!("{}.{}", c.created_at, c.case_id))
                .unwrap_or_default()
        });
        Ok(CasePage { cases, next_cursor })
    }

    /// The server and target of `case_id`, and `caller`'s role there.
    pub(crate) async fn case_context(
        &self,
        caller: &str,
        case_id: &str,
    ) -> Result<(String, String, Role), ModerationError> {
        let row =
            sqlx::query("SELECT server_id, target_user_id FROM moderation_cases WHERE id = $1")
                .bind(case_id)
                .fetch_optional(self.pool())
                .await?
                .ok_or(ModerationError::CaseNotFound)?;
        let server_id: String = row.try_get("server_id")?;
        let target: String = row.try_get("target_user_id")?;
        let role = self
            .member_role(&server_id, caller)
            .await?
            .ok_or(ModerationError::CaseNotFound)?;
        Ok((server_id, target, role))
    }

    async fn actions_of(&self, case_id: &str) -> Result<Vec<ActionRecord>, ModerationError> {
        let rows = sqlx::query(
            "SELECT id, case_id, kind, target_user_id, actor_user_id, proposal_id, params, \
             ends_at, created_at FROM moderation_actions WHERE case_id = $1 \
             ORDER BY created_at, id",
        )
        .bind(case_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(super::actions::action_from_row).collect()
    }

    async fn proposals_of(&self, case_id: &str) -> Result<Vec<ProposalRecord>, ModerationError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM moderation_proposals WHERE case_id = $1 ORDER BY created_at, id",
        )
        .bind(case_id)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.proposal(&id).await?);
        }
        Ok(out)
    }
}

/// A cases cursor, `<created_at>.<case id>` (what its pattern says).
fn parse_cursor(cursor: &str) -> Option<(i64, String)> {
    let (at, id) = cursor.split_once('.')?;
    if at.is_empty() || at.len() > 18 || !at.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !crate::validate::is_valid_id(id) {
        return None;
    }
    Some((at.parse().ok()?, id.to_owned()))
}

fn case_from_row(row: &AnyRow, reads_bundle: bool) -> Result<Case, ModerationError> {
    let bundle: Option<String> = row.try_get("bundle")?;
    let state: String = row.try_get("state")?;
    Ok(Case {
        case_id: row.try_get("id")?,
        server_id: row.try_get("server_id")?,
        target_user_id: row.try_get("target_user_id")?,
        opened_by: row.try_get("opened_by")?,
        reason: row.try_get("reason")?,
        state: if state == "open" {
            CaseState::Open
        } else {
            CaseState::Actioned
        },
        has_report: bundle.is_some(),
        report: bundle
            .filter(|_| reads_bundle)
            .and_then(|b| serde_json::from_str(&b).ok()),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        actions: Vec::new(),
        proposals: Vec::new(),
    })
}
