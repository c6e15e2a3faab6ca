//! What each action does, inside the transaction that records it: the effect, the action row,
//! the case's state, one `action_taken` audit entry and the events. The `moderation_action`
//! event (audience: the target's devices) comes first, so that on every node the target's live
//! sessions end with the action's own code (`banned`, `kicked`, `timed_out`) before the
//! `member_removed` event of a ban or kick is seen.

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::cases::check_reason;
use super::{
    ActionKind, ActionRecord, ActionRequest, ModerationError, ModerationPolicy, audit, rank,
};
use crate::db::new_id;
use crate::devices::Removal;
use crate::outbox::{Audience, Write, kind};
use crate::validate::{FieldErrors, check_id};
use crate::{Control, Role};

/// Longest duration: one year.
const MAX_DURATION_SECS: u64 = 31_536_000;

/// Checks the fields an action of its kind takes.
pub(crate) fn check_request(request: &ActionRequest) -> Result<(), ModerationError> {
    let mut errors = FieldErrors::default();
    let timed = matches!(
        request.kind,
        ActionKind::Mute | ActionKind::Timeout | ActionKind::Ban
    );
    match request.duration_secs {
        Some(_) if !timed => errors.add("action.duration_secs", "only mute, timeout and ban last"),
        Some(secs) if !(1..=MAX_DURATION_SECS).contains(&secs) => {
            errors.add("action.duration_secs", "must be 1-31536000")
        }
        _ => {}
    }
    match (&request.message_id, request.kind) {
        (None, ActionKind::DeleteMessage) => {
            errors.add("action.message_id", "delete_message needs the message's id")
        }
        (Some(id), ActionKind::DeleteMessage) => check_id(&mut errors, "action.message_id", id),
        (Some(_), _) => errors.add("action.message_id", "only delete_message takes a message"),
        (None, _) => {}
    }
    if let Some(reason) = &request.reason {
        check_reason(&mut errors, "action.reason", reason);
    }
    errors.into_result().map_err(ModerationError::Invalid)
}

/// One action to carry out.
pub(crate) struct Execution<'a> {
    pub server_id: &'a str,
    pub case_id: &'a str,
    pub target: &'a str,
    /// `None` when a vote carries it out.
    pub actor: Option<&'a str>,
    pub proposal_id: Option<&'a str>,
    pub request: &'a ActionRequest,
    pub policy: &'a ModerationPolicy,
}

/// What to do once the transaction committed.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AfterCommit {
    /// Propose removing the target's devices from the server's channel groups.
    pub propose_removals: bool,
}

/// The target's role in the server (`None`: not a member).
pub(crate) async fn target_role(
    tx: &mut Write<'_>,
    server_id: &str,
    target: &str,
) -> Result<Option<Role>, ModerationError> {
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM members WHERE server_id = $1 AND user_id = $2")
            .bind(server_id)
            .bind(target)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(role.and_then(|r| r.parse().ok()))
}

/// Whether `actor_role` may act on a target of `target_role`: never on the owner, and only on
/// a lower role.
pub(crate) fn outranks(actor_role: Role, target_role: Option<Role>) -> Result<(), ModerationError> {
    match target_role {
        Some(Role::Owner) => Err(ModerationError::InvalidTarget(
            "the server's owner cannot be moderated",
        )),
        Some(role) if rank(role) >= rank(actor_role) => Err(ModerationError::Forbidden),
        _ => Ok(()),
    }
}

/// Carries out `exec` inside `tx`.
pub(crate) async fn execute(
    tx: &mut Write<'_>,
    exec: &Execution<'_>,
    now: i64,
) -> Result<(ActionRecord, AfterCommit), ModerationError> {
    let Execution {
        server_id,
        case_id,
        target,
        request,
        ..
    } = *exec;
    let mut after = AfterCommit::default();
    let mut removed_member = false;
    let secs_to_ms = |secs: u64| {
        now.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000))
    };
    let ends_at = match request.kind {
        ActionKind::Mute | ActionKind::Ban => request.duration_secs.map(secs_to_ms),
        ActionKind::Timeout => Some(secs_to_ms(
            request
                .duration_secs
                .unwrap_or(exec.policy.default_timeout_secs),
        )),
        _ => None,
    };
    let action_id = new_id("act");
    let mut removed_message: Option<(String, i64)> = None;
    match request.kind {
        ActionKind::Warn => {}
        ActionKind::DeleteMessage => {
            let message_id = request.message_id.as_deref().unwrap_or_default();
            let row = sqlx::query(
                "SELECT m.channel_id, c.epoch FROM messages m JOIN channels c ON c.id = m.channel_id \
                 WHERE m.id = $1 AND c.server_id = $2",
            )
            .bind(message_id)
            .bind(server_id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or_else(|| ModerationError::MessageNotFound(message_id.to_owned()))?;
            let channel_id: String = row.try_get("channel_id")?;
            let epoch: i64 = row.try_get("epoch")?;
            sqlx::query(
                "UPDATE messages SET ciphertext = NULL, deleted_at = COALESCE(deleted_at, $2) \
                 WHERE id = $1",
            )
            .bind(message_id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            removed_message = Some((channel_id, epoch));
        }
        ActionKind::Mute | ActionKind::Timeout => {
            let restriction = if request.kind == ActionKind::Mute {
                "mute"
            } else {
                "timeout"
            };
            sqlx::query(
                "INSERT INTO moderation_restrictions (server_id, user_id, kind, until, action_id) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (server_id, user_id, kind) DO UPDATE \
                 SET until = excluded.until, action_id = excluded.action_id",
            )
            .bind(server_id)
            .bind(target)
            .bind(restriction)
            .bind(ends_at)
            .bind(&action_id)
            .execute(&mut **tx)
            .await?;
        }
        ActionKind::Unmute | ActionKind::EndTimeout => {
            let (restriction, what) = if request.kind == ActionKind::Unmute {
                ("mute", "no server mute in force")
            } else {
                ("timeout", "no timeout in force")
            };
            let done = sqlx::query(
                "DELETE FROM moderation_restrictions WHERE server_id = $1 AND user_id = $2 \
                 AND kind = $3",
            )
            .bind(server_id)
            .bind(target)
            .bind(restriction)
            .execute(&mut **tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(ModerationError::NothingToLift(what));
            }
        }
        ActionKind::Kick => {
            let done = sqlx::query("DELETE FROM members WHERE server_id = $1 AND user_id = $2")
                .bind(server_id)
                .bind(target)
                .execute(&mut **tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(ModerationError::InvalidTarget("not a member of the server"));
            }
            removed_member = true;
        }
        ActionKind::Ban => {
            sqlx::query(
                "INSERT INTO bans (server_id, user_id, until, reason, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (server_id, user_id) DO UPDATE \
                 SET until = excluded.until, reason = excluded.reason, \
                 created_at = excluded.created_at",
            )
            .bind(server_id)
            .bind(target)
            .bind(ends_at)
            .bind(request.reason.as_deref())
            .bind(now)
            .execute(&mut **tx)
            .await?;
            let done = sqlx::query("DELETE FROM members WHERE server_id = $1 AND user_id = $2")
                .bind(server_id)
                .bind(target)
                .execute(&mut **tx)
                .await?;
            removed_member = done.rows_affected() > 0;
        }
        ActionKind::Unban => {
            let done = sqlx::query("DELETE FROM bans WHERE server_id = $1 AND user_id = $2")
                .bind(server_id)
                .bind(target)
                .execute(&mut **tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(ModerationError::NothingToLift("no ban in force"));
            }
        }
        ActionKind::RemoveRole => {
            let done = sqlx::query(
                "UPDATE members SET role = 'member' WHERE server_id = $1 AND user_id = $2 \
                 AND role = 'moderator'",
            )
            .bind(server_id)
            .bind(target)
            .execute(&mut **tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(ModerationError::InvalidTarget("not a moderator"));
            }
        }
    }
    let params = serde_json::to_string(request).unwrap_or_default();
    sqlx::query(
        "INSERT INTO moderation_actions (id, case_id, server_id, kind, target_user_id, \
         actor_user_id, proposal_id, params, ends_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&action_id)
    .bind(case_id)
    .bind(server_id)
    .bind(request.kind.as_str())
    .bind(target)
    .bind(exec.actor)
    .bind(exec.proposal_id)
    .bind(&params)
    .bind(ends_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE moderation_cases SET state = 'actioned', updated_at = $2 WHERE id = $1")
        .bind(case_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    audit::record(
        tx,
        server_id,
        exec.actor,
        "action_taken",
        &action_id,
        &json!({ "case_id": case_id, "kind": request.kind.as_str(), "target_user_id": target,
                 "proposal_id": exec.proposal_id, "ends_at": ends_at, "reason": request.reason }),
        now,
    )
    .await?;
    let event = json!({
        "server_id": server_id, "user_id": target, "action": request.kind.as_str(),
        "until": ends_at, "case_id": case_id, "action_id": action_id,
        "reason": request.reason, "message_id": request.message_id,
    });
    tx.append(
        kind::MODERATION_ACTION,
        Audience::User { user_id: target },
        &event,
        now,
    )
    .await?;
    if let Some((channel_id, epoch)) = &removed_message {
        tx.append(
            kind::MESSAGE_REMOVED,
            Audience::ChannelEpoch {
                channel_id,
                epoch: *epoch,
            },
            &json!({ "channel_id": channel_id, "message_id": request.message_id,
                     "by": "moderation", "case_id": case_id }),
            now,
        )
        .await?;
    }
    if removed_member {
        let reason = if request.kind == ActionKind::Ban {
            "banned"
        } else {
            "kicked"
        };
        tx.append(
            kind::MEMBER_REMOVED,
            Audience::User { user_id: target },
            &json!({ "server_id": server_id, "user_id": target, "reason": reason }),
            now,
        )
        .await?;
        after.propose_removals = true;
    }
    let record = ActionRecord {
        action_id,
        case_id: case_id.to_owned(),
        kind: request.kind,
        target_user_id: target.to_owned(),
        actor_user_id: exec.actor.map(str::to_owned),
        proposal_id: exec.proposal_id.map(str::to_owned),
        ends_at,
        request: request.clone(),
        created_at: now,
    };
    Ok((record, after))
}

/// An action row as stored.
pub(crate) fn action_from_row(row: &AnyRow) -> Result<ActionRecord, ModerationError> {
    let params: String = row.try_get("params")?;
    let request: ActionRequest = serde_json::from_str(&params)
        .map_err(|e| ModerationError::Storage(crate::ControlError::Corrupt(e.to_string())))?;
    Ok(ActionRecord {
        action_id: row.try_get("id")?,
        case_id: row.try_get("case_id")?,
        kind: request.kind,
        target_user_id: row.try_get("target_user_id")?,
        actor_user_id: row.try_get("actor_user_id")?,
        proposal_id: row.try_get("proposal_id")?,
        ends_at: row.try_get("ends_at")?,
        request,
        created_at: row.try_get("created_at")?,
    })
}

impl Control {
    /// Takes `request` on `case_id` at once, as the policy allows `caller`'s role.
    pub async fn take_action(
        &self,
        caller: &str,
        case_id: &str,
        request: ActionRequest,
    ) -> Result<ActionRecord, ModerationError> {
        check_request(&request)?;
        let (server_id, target, role) = self.case_context(caller, case_id).await?;
        let policy = self.policy_of(&server_id).await?;
        policy.may_take(role, request.kind)?;
        if target == caller {
            return Err(ModerationError::InvalidTarget(
                "you cannot moderate yourself",
            ));
        }
        let now = self.now();
        let mut tx = self.write().await?;
        outranks(role, target_role(&mut tx, &server_id, &target).await?)?;
        let exec = Execution {
            server_id: &server_id,
            case_id,
            target: &target,
            actor: Some(caller),
            proposal_id: None,
            request: &request,
            policy: &policy,
        };
        let (record, after) = execute(&mut tx, &exec, now).await?;
        tx.commit().await?;
        self.after_action(&server_id, &target, after).await;
        Ok(record)
    }

    /// What an action leaves to do once committed.
    pub(crate) async fn after_action(&self, server_id: &str, target: &str, after: AfterCommit) {
        if after.propose_removals {
            self.propose_removals(
                Removal::UserInServer {
                    user_id: target,
                    server_id,
                },
                "removed from the server by moderation",
            )
            .await;
        }
    }
}
