//! Proposals and votes. A proposal carries one action; the policy's voters vote for or against
//! it, once each (a second vote replaces the first). The vote that makes it pass (quorum of
//! votes cast, threshold of them for) carries the action out in the same transaction, exactly
//! once: every vote first locks the proposal's row (an `UPDATE` of an open, unexpired proposal),
//! so two last votes arriving together on two nodes are counted one after the other, and the
//! second finds the proposal executed. A proposal past its lifetime is expired (with an audit
//! entry) by the first vote or read that finds it, and by the lapse sweep.

use serde_json::json;
use sqlx::Row;

use super::actions::{Execution, check_request, execute, outranks, target_role};
use super::{ActionRequest, ModerationError, ProposalRecord, ProposalState, VoteOutcome, audit};
use crate::Control;
use crate::db::new_id;

impl Control {
    /// Puts `action` on `case_id` to a vote (the policy's voters only, for votable actions).
    pub async fn propose_action(
        &self,
        caller: &str,
        case_id: &str,
        action: ActionRequest,
    ) -> Result<ProposalRecord, ModerationError> {
        check_request(&action)?;
        let (server_id, target, role) = self.case_context(caller, case_id).await?;
        let policy = self.policy_of(&server_id).await?;
        if !policy.may_vote(role) {
            return Err(ModerationError::Forbidden);
        }
        if !policy.votable.contains(&action.kind) {
            return Err(ModerationError::NotVotable);
        }
        if target == caller {
            return Err(ModerationError::InvalidTarget(
                "you cannot moderate yourself",
            ));
        }
        let now = self.now();
        let proposal_id = new_id("prop");
        let expires_at =
            now.saturating_add(i64::try_from(policy.proposal_lifetime_secs).unwrap_or(0) * 1000);
        let mut tx = self.write().await?;
        if target_role(&mut tx, &server_id, &target).await? == Some(crate::Role::Owner) {
            return Err(ModerationError::InvalidTarget(
                "the server's owner cannot be moderated",
            ));
        }
        sqlx::query(
            "INSERT INTO moderation_proposals (id, case_id, server_id, action, state, created_by, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, 'open', $5, $6, $7)",
        )
        .bind(&proposal_id)
        .bind(case_id)
        .bind(&server_id)
        .bind(serde_json::to_string(&action).unwrap_or_default())
        .bind(caller)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            &server_id,
            Some(caller),
            "proposal_created",
            &proposal_id,
            &json!({ "case_id": case_id, "kind": action.kind.as_str(), "target_user_id": target,
                     "expires_at": expires_at }),
            now,
        )
        .await?;
        tx.commit().await?;
        self.proposal(&proposal_id).await
    }

    /// `caller` votes on `proposal_id` of `case_id`; the deciding vote carries the action out.
    pub async fn vote(
        &self,
        caller: &str,
        case_id: &str,
        proposal_id: &str,
        approve: bool,
    ) -> Result<VoteOutcome, ModerationError> {
        let (server_id, target, role) = self.case_context(caller, case_id).await?;
        let policy = self.policy_of(&server_id).await?;
        if !policy.may_vote(role) {
            return Err(ModerationError::Forbidden);
        }
        if target == caller {
            return Err(ModerationError::InvalidTarget(
                "you cannot vote on your own case",
            ));
        }
        self.expire_proposals(Some(&server_id)).await?;
        let now = self.now();
        let mut tx = self.write().await?;
        // The lock every vote takes first (see the module).
        let locked = sqlx::query(
            "UPDATE moderation_proposals SET state = state WHERE id = $1 AND case_id = $2 \
             AND state = 'open' AND expires_at > $3 RETURNING action",
        )
        .bind(proposal_id)
        .bind(case_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(locked) = locked else {
            drop(tx);
            let state: Option<String> = sqlx::query_scalar(
                "SELECT state FROM moderation_proposals WHERE id = $1 AND case_id = $2",
            )
            .bind(proposal_id)
            .bind(case_id)
            .fetch_optional(self.pool())
            .await?;
            return Err(match state.as_deref() {
                None => ModerationError::ProposalNotFound,
                Some("executed") => ModerationError::ProposalClosed("executed"),
                // Expired, or past its lifetime and not swept yet.
                Some(_) => ModerationError::ProposalClosed("expired"),
            });
        };
        let action_text: String = locked.try_get("action")?;
        let action: ActionRequest = serde_json::from_str(&action_text)
            .map_err(|e| ModerationError::Storage(crate::ControlError::Corrupt(e.to_string())))?;
        sqlx::query(
            "INSERT INTO moderation_votes (proposal_id, voter, approve, voted_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (proposal_id, voter) DO UPDATE \
             SET approve = excluded.approve, voted_at = excluded.voted_at",
        )
        .bind(proposal_id)
        .bind(caller)
        .bind(i64::from(approve))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            &server_id,
            Some(caller),
            "vote_cast",
            proposal_id,
            &json!({ "case_id": case_id, "approve": approve }),
            now,
        )
        .await?;
        let counts = sqlx::query(
            "SELECT CAST(COALESCE(SUM(approve), 0) AS BIGINT) AS votes_for, \
             COUNT(*) AS votes_cast \
             FROM moderation_votes WHERE proposal_id = $1",
        )
        .bind(proposal_id)
        .fetch_one(&mut *tx)
        .await?;
        let votes_for: i64 = counts.try_get("votes_for")?;
        let votes_cast: i64 = counts.try_get("votes_cast")?;
        let mut executed = None;
        let mut after = None;
        if policy.passes(
            u32::try_from(votes_for).unwrap_or(0),
            u32::try_from(votes_cast).unwrap_or(0),
        ) {
            // A target promoted since the proposal is still never the owner.
            outranks(
                crate::Role::Owner,
                target_role(&mut tx, &server_id, &target).await?,
            )?;
            let exec = Execution {
                server_id: &server_id,
                case_id,
                target: &target,
                actor: None,
                proposal_id: Some(proposal_id),
                request: &action,
                policy: &policy,
            };
            let (record, after_commit) = execute(&mut tx, &exec, now).await?;
            sqlx::query(
                "UPDATE moderation_proposals SET state = 'executed', decided_at = $2, \
                 action_id = $3 WHERE id = $1",
            )
            .bind(proposal_id)
            .bind(now)
            .bind(&record.action_id)
            .execute(&mut *tx)
            .await?;
            audit::record(
                &mut tx,
                &server_id,
                None,
                "proposal_executed",
                proposal_id,
                &json!({ "case_id": case_id, "action_id": record.action_id,
                         "votes_for": votes_for, "votes_cast": votes_cast }),
                now,
            )
            .await?;
            executed = Some(record);
            after = Some(after_commit);
        }
        tx.commit().await?;
        if let Some(after) = after {
            self.after_action(&server_id, &target, after).await;
        }
        Ok(VoteOutcome {
            proposal: self.proposal(proposal_id).await?,
            executed,
        })
    }

    /// Expires the open proposals past their lifetime (of `server_id`, or of every server),
    /// each with an audit entry. Several nodes may run it at once: each proposal is expired by
    /// exactly one of them.
    pub async fn expire_proposals(
        &self,
        server_id: Option<&str>,
    ) -> Result<usize, ModerationError> {
        let now = self.now();
        let server = server_id.unwrap_or("");
        let due: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM moderation_proposals WHERE state = 'open' AND expires_at <= $2 \
             AND ($1 = '' OR server_id = $1) LIMIT 1",
        )
        .bind(server)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        if due.is_none() {
            return Ok(0);
        }
        let mut tx = self.write().await?;
        let expired = sqlx::query(
            "UPDATE moderation_proposals SET state = 'expired', decided_at = $2 \
             WHERE state = 'open' AND expires_at <= $2 AND ($1 = '' OR server_id = $1) \
             RETURNING id, case_id, server_id",
        )
        .bind(server)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        for row in &expired {
            let id: String = row.try_get("id")?;
            let case_id: String = row.try_get("case_id")?;
            let server_id: String = row.try_get("server_id")?;
            audit::record(
                &mut tx,
                &server_id,
                None,
                "proposal_expired",
                &id,
                &json!({ "case_id": case_id }),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(expired.len())
    }

    /// A proposal with its vote counts.
    pub(crate) async fn proposal(
        &self,
        proposal_id: &str,
    ) -> Result<ProposalRecord, ModerationError> {
        let row = sqlx::query(
            "SELECT p.id, p.case_id, p.action, p.state, p.created_by, p.created_at, p.expires_at, \
             p.action_id, (SELECT CAST(COALESCE(SUM(approve), 0) AS BIGINT) FROM moderation_votes v \
             WHERE v.proposal_id = p.id) AS votes_for, (SELECT COUNT(*) FROM moderation_votes v \
             WHERE v.proposal_id = p.id) AS votes_cast FROM moderation_proposals p WHERE p.id = $1",
        )
        .bind(proposal_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(ModerationError::ProposalNotFound)?;
        let action: String = row.try_get("action")?;
        let state: String = row.try_get("state")?;
        let votes_for: i64 = row.try_get("votes_for")?;
        let votes_cast: i64 = row.try_get("votes_cast")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let state = match state.as_str() {
            "executed" => ProposalState::Executed,
            "expired" => ProposalState::Expired,
            // Past its lifetime but not swept yet: it takes no votes.
            _ if expires_at <= self.now() => ProposalState::Expired,
            _ => ProposalState::Open,
        };
        Ok(ProposalRecord {
            proposal_id: row.try_get("id")?,
            case_id: row.try_get("case_id")?,
            action: serde_json::from_str(&action).map_err(|e| {
                ModerationError::Storage(crate::ControlError::Corrupt(e.to_string()))
            })?,
            state,
            created_by: row.try_get("created_by")?,
            created_at: row.try_get("created_at")?,
            expires_at,
            votes_for: u32::try_from(votes_for).unwrap_or(0),
            votes_against: u32::try_from(votes_cast - votes_for).unwrap_or(0),
            action_id: row.try_get("action_id")?,
        })
    }
}
