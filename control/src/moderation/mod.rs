//! Moderation: each server's policy, cases (with the report bundles reporters disclose), actions
//! taken at once or by vote, and the append-only audit log.
//!
//! Every change is one [`Write`](crate::outbox::Write): the action's effect (a ban row, a
//! restriction, a tombstone), its record, its audit entry and its outbox events commit together.
//! The `moderation_action` event reaches every node's dispatcher, which publishes it as an
//! [`AccessChange::Moderation`](crate::AccessChange) for signaling to apply to live rooms (end the
//! sessions of a banned, kicked or timed-out user; server-mute or unmute a user).
//!
//! Layout: `policy.rs` (who may do what), `cases.rs` (cases and report bundles), `actions.rs`
//! (what each action does), `proposals.rs` (proposals, votes, expiry), `audit.rs`,
//! `restrictions.rs` (timeouts and mutes in force, and their lapse).

mod actions;
mod audit;
mod cases;
mod policy;
mod proposals;
mod restrictions;
mod types;

pub use policy::ModerationPolicy;
pub use restrictions::Restriction;
pub use types::{
    ActionKind, ActionRecord, ActionRequest, ActionSpec, AuditEntry, AuditPage, Case, CasePage,
    CaseQuery, CaseState, DisclosedMessage, NewCase, ProposalRecord, ProposalState, ReportBundle,
    VoteOutcome,
};

use crate::validate::FieldErrors;
use crate::{ControlError, Role};

/// Why a moderation request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ModerationError {
    /// Invalid input; the map says which fields and why.
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// No such server, or the caller is not a member of it.
    #[error("server not found")]
    ServerNotFound,
    /// No such case (or one the caller may not see).
    #[error("case not found")]
    CaseNotFound,
    /// No such proposal in the case.
    #[error("proposal not found")]
    ProposalNotFound,
    /// The caller's role may not do this (policy), or may not act on the target's role.
    #[error("your role in this server does not allow this")]
    Forbidden,
    /// The policy does not let this action be taken at once: it needs a vote.
    #[error("this action needs a vote under the server's policy")]
    VoteRequired,
    /// The policy does not let this action be proposed for a vote.
    #[error("this action cannot be put to a vote under the server's policy")]
    NotVotable,
    /// The target cannot be acted on (the server's owner, or the caller).
    #[error("{0}")]
    InvalidTarget(&'static str),
    /// A reported or targeted message does not exist in the server.
    #[error("message {0} not found in this server")]
    MessageNotFound(String),
    /// The reporter was not a member of the message's channel at its epoch.
    #[error("you were not a member of the channel when message {0} was sent")]
    NotMemberAtEpoch(String),
    /// The report discloses message content, which the policy does not allow.
    #[error("this server's policy does not allow reports to disclose message content")]
    DisclosureNotAllowed,
    /// The proposal is executed or expired.
    #[error("the proposal is {0}")]
    ProposalClosed(&'static str),
    /// Nothing to undo (no ban, mute or timeout in force).
    #[error("nothing to lift: {0}")]
    NothingToLift(&'static str),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] ControlError),
}

impl From<sqlx::Error> for ModerationError {
    fn from(e: sqlx::Error) -> Self {
        ModerationError::Storage(e.into())
    }
}

impl ModerationError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ModerationError::Invalid(_) => "invalid_request",
            ModerationError::ServerNotFound => "server_not_found",
            ModerationError::CaseNotFound => "case_not_found",
            ModerationError::ProposalNotFound => "proposal_not_found",
            ModerationError::Forbidden => "forbidden",
            ModerationError::VoteRequired => "vote_required",
            ModerationError::NotVotable => "not_votable",
            ModerationError::InvalidTarget(_) => "invalid_target",
            ModerationError::MessageNotFound(_) => "message_not_found",
            ModerationError::NotMemberAtEpoch(_) => "not_member_at_epoch",
            ModerationError::DisclosureNotAllowed => "disclosure_not_allowed",
            ModerationError::ProposalClosed(_) => "proposal_closed",
            ModerationError::NothingToLift(_) => "nothing_to_lift",
            ModerationError::Storage(_) => "internal",
        }
    }

    fn invalid(field: &str, problem: &str) -> ModerationError {
        let mut errors = FieldErrors::default();
        errors.add(field, problem);
        ModerationError::Invalid(errors)
    }
}

/// Power order of roles: owner above moderator above member.
pub(crate) fn rank(role: Role) -> u8 {
    match role {
        Role::Owner => 2,
        Role::Moderator => 1,
        Role::Member => 0,
    }
}
