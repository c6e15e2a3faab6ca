//! A server's moderation policy: which role may take which action at once, which actions go to a
//! vote (who votes, quorum, threshold, lifetime), default durations, and who reads report
//! bundles and the audit log. Stored as JSON per server; a server without one has
//! [`ModerationPolicy::default`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;

use super::{ActionKind, ModerationError, audit, rank};
use crate::validate::FieldErrors;
use crate::{Control, Role};

/// Longest proposal lifetime and timeout default: 30 days.
const MAX_LIFETIME_SECS: u64 = 30 * 86_400;

/// A server's moderation policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModerationPolicy {
    /// The lowest role that may take each action at once. An action not listed cannot be taken
    /// at once by anyone (it needs a vote, if `votable` lists it). The owner may always act.
    #[schema(schema_with = crate::http::openapi::schemas::action_roles)]
    pub immediate: BTreeMap<ActionKind, Role>,
    /// Actions that may be proposed for a vote.
    pub votable: Vec<ActionKind>,
    /// The lowest role that may propose and vote (`moderator` or `owner`).
    #[schema(schema_with = crate::http::openapi::schemas::voter_role)]
    pub voter_role: Role,
    /// Votes needed before a proposal can pass, 1-100.
    #[schema(minimum = 1, maximum = 100)]
    #[serde(deserialize_with = "crate::json_number::integer")]
    pub quorum: u32,
    /// Share of the votes cast that must be for, in percent, 1-100.
    #[schema(minimum = 1, maximum = 100)]
    #[serde(deserialize_with = "crate::json_number::integer")]
    pub threshold_percent: u32,
    /// How long a proposal takes votes, 60 to 2592000 seconds.
    #[schema(minimum = 60, maximum = 2592000)]
    #[serde(deserialize_with = "crate::json_number::integer")]
    pub proposal_lifetime_secs: u64,
    /// A timeout's length when the action gives none, 60 to 2592000 seconds.
    #[schema(minimum = 60, maximum = 2592000)]
    #[serde(deserialize_with = "crate::json_number::integer")]
    pub default_timeout_secs: u64,
    /// Whether reports may disclose message plaintext and key material.
    pub allow_disclosure: bool,
    /// The lowest role that reads report bundles (besides their reporter).
    pub bundle_reader_role: Role,
    /// The lowest role that reads the audit log.
    pub audit_reader_role: Role,
}

impl Default for ModerationPolicy {
    fn default() -> Self {
        use ActionKind::*;
        let mut immediate = BTreeMap::new();
        for kind in [Warn, DeleteMessage, Mute, Unmute, Kick, Timeout, EndTimeout] {
            immediate.insert(kind, Role::Moderator);
        }
        for kind in [Ban, Unban, RemoveRole] {
            immediate.insert(kind, Role::Owner);
        }
        ModerationPolicy {
            immediate,
            votable: vec![Ban, Timeout, Kick],
            voter_role: Role::Moderator,
            quorum: 2,
            threshold_percent: 50,
            proposal_lifetime_secs: 86_400,
            default_timeout_secs: 600,
            allow_disclosure: true,
            bundle_reader_role: Role::Moderator,
            audit_reader_role: Role::Moderator,
        }
    }
}

impl ModerationPolicy {
    /// Checks the ranges; the map says which fields are wrong.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::default();
        if !(1..=100).contains(&self.quorum) {
            errors.add("quorum", "must be 1-100");
        }
        if !(1..=100).contains(&self.threshold_percent) {
            errors.add("threshold_percent", "must be 1-100");
        }
        if !(60..=MAX_LIFETIME_SECS).contains(&self.proposal_lifetime_secs) {
            errors.add("proposal_lifetime_secs", "must be 60-2592000");
        }
        if !(60..=MAX_LIFETIME_SECS).contains(&self.default_timeout_secs) {
            errors.add("default_timeout_secs", "must be 60-2592000");
        }
        if self.voter_role == Role::Member {
            errors.add("voter_role", "must be moderator or owner");
        }
        errors.into_result()
    }

    /// Whether `role` may take `kind` at once: [`ModerationError::VoteRequired`] when only a
    /// vote may, [`ModerationError::Forbidden`] when the role is too low.
    pub(crate) fn may_take(&self, role: Role, kind: ActionKind) -> Result<(), ModerationError> {
        if role == Role::Owner {
            return Ok(());
        }
        match self.immediate.get(&kind) {
            Some(lowest) if rank(role) >= rank(*lowest) => Ok(()),
            Some(_) => Err(ModerationError::Forbidden),
            None if self.votable.contains(&kind) => Err(ModerationError::VoteRequired),
            None => Err(ModerationError::Forbidden),
        }
    }

    /// Whether `role` may propose and vote.
    pub(crate) fn may_vote(&self, role: Role) -> bool {
        rank(role) >= rank(self.voter_role)
    }

    /// Whether a proposal with `votes_for` of `votes_cast` passes.
    pub(crate) fn passes(&self, votes_for: u32, votes_cast: u32) -> bool {
        votes_cast >= self.quorum
            && u64::from(votes_for) * 100
                >= u64::from(self.threshold_percent) * u64::from(votes_cast)
            && votes_for > 0
    }
}

impl Control {
    /// The policy of `server_id` as `caller` (a member) sees it.
    pub async fn moderation_policy(
        &self,
        caller: &str,
        server_id: &str,
    ) -> Result<ModerationPolicy, ModerationError> {
        self.moderation_role(server_id, caller).await?;
        Ok(self.policy_of(server_id).await?)
    }

    /// Replaces the policy of `server_id` (its owner only).
    pub async fn set_moderation_policy(
        &self,
        caller: &str,
        server_id: &str,
        policy: ModerationPolicy,
    ) -> Result<ModerationPolicy, ModerationError> {
        policy.validate().map_err(ModerationError::Invalid)?;
        if self.moderation_role(server_id, caller).await? != Role::Owner {
            return Err(ModerationError::Forbidden);
        }
        let now = self.now();
        let text = serde_json::to_string(&policy)
            .map_err(|e| ModerationError::Storage(crate::ControlError::Corrupt(e.to_string())))?;
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO moderation_policies (server_id, policy, updated_by, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (server_id) DO UPDATE SET \
             policy = excluded.policy, updated_by = excluded.updated_by, \
             updated_at = excluded.updated_at",
        )
        .bind(server_id)
        .bind(&text)
        .bind(caller)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let detail = serde_json::to_value(&policy).unwrap_or_default();
        audit::record(
            &mut tx,
            server_id,
            Some(caller),
            "policy_updated",
            server_id,
            &detail,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(policy)
    }

    /// The stored policy of `server_id`, or the default.
    pub(crate) async fn policy_of(
        &self,
        server_id: &str,
    ) -> Result<ModerationPolicy, crate::ControlError> {
        let row = sqlx::query("SELECT policy FROM moderation_policies WHERE server_id = $1")
            .bind(server_id)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else {
            return Ok(ModerationPolicy::default());
        };
        let text: String = row.try_get("policy")?;
        // Written by `set_moderation_policy` only: a row that does not parse is a bug, and the
        // default keeps moderation working.
        Ok(serde_json::from_str(&text).unwrap_or_else(|e| {
            tracing::warn!(server_id, error = %e, "a stored moderation policy does not parse");
            ModerationPolicy::default()
        }))
    }

    /// `caller`'s role in `server_id`; [`ModerationError::ServerNotFound`] if not a member.
    pub(crate) async fn moderation_role(
        &self,
        server_id: &str,
        caller: &str,
    ) -> Result<Role, ModerationError> {
        self.member_role(server_id, caller)
            .await?
            .ok_or(ModerationError::ServerNotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_is_valid_and_ranks_roles() {
        let p = ModerationPolicy::default();
        assert_eq!(p.validate(), Ok(()));
        assert!(p.may_take(Role::Moderator, ActionKind::Mute).is_ok());
        assert!(matches!(
            p.may_take(Role::Moderator, ActionKind::Ban),
            Err(ModerationError::Forbidden)
        ));
        assert!(matches!(
            p.may_take(Role::Member, ActionKind::Warn),
            Err(ModerationError::Forbidden)
        ));
        assert!(p.may_take(Role::Owner, ActionKind::Ban).is_ok());
        let mut votes_only = p.clone();
        votes_only.immediate.remove(&ActionKind::Kick);
        assert!(matches!(
            votes_only.may_take(Role::Moderator, ActionKind::Kick),
            Err(ModerationError::VoteRequired)
        ));
        assert!(p.passes(1, 2) && p.passes(2, 2) && !p.passes(1, 1) && !p.passes(0, 3));
        let json = serde_json::to_value(&p).expect("json");
        assert_eq!(json["immediate"]["ban"], "owner");
        let bad = ModerationPolicy {
            quorum: 0,
            voter_role: Role::Member,
            ..p
        };
        let errors = bad.validate().expect_err("invalid");
        assert!(errors.get("quorum").is_some() && errors.get("voter_role").is_some());
    }
}
