//! What moderation stores and answers: actions, cases, report bundles, proposals, audit entries.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a moderator (or a vote) does to a member.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// A warning: recorded, and the target's devices get the event.
    Warn,
    /// Erases a message's ciphertext (a tombstone); the channel's devices get the event.
    DeleteMessage,
    /// Stops forwarding the target's media in every room of the server, for `duration_secs` or
    /// until `unmute`; shown to the rooms as a server mute.
    Mute,
    /// Lifts a server mute.
    Unmute,
    /// Ends the target's live room sessions (`kicked`) and removes them from the server; they
    /// may come back with an invitation.
    Kick,
    /// No sending, no joining rooms, no commits for `duration_secs`; live sessions end
    /// (`timed_out`).
    Timeout,
    /// Lifts a timeout.
    EndTimeout,
    /// Removes the target from the server and keeps them out (for `duration_secs`, or for good).
    Ban,
    /// Lifts a ban.
    Unban,
    /// Takes the moderator role away (the target stays a member).
    RemoveRole,
}

impl ActionKind {
    /// Every kind, in a stable order.
    pub const ALL: [ActionKind; 10] = [
        ActionKind::Warn,
        ActionKind::DeleteMessage,
        ActionKind::Mute,
        ActionKind::Unmute,
        ActionKind::Kick,
        ActionKind::Timeout,
        ActionKind::EndTimeout,
        ActionKind::Ban,
        ActionKind::Unban,
        ActionKind::RemoveRole,
    ];

    /// The stored and serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Warn => "warn",
            ActionKind::DeleteMessage => "delete_message",
            ActionKind::Mute => "mute",
            ActionKind::Unmute => "unmute",
            ActionKind::Kick => "kick",
            ActionKind::Timeout => "timeout",
            ActionKind::EndTimeout => "end_timeout",
            ActionKind::Ban => "ban",
            ActionKind::Unban => "unban",
            ActionKind::RemoveRole => "remove_role",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// An action as a request body gives it: `kind` says which fields it takes (a field another
/// kind takes is unknown here, and refused). Its schema (the one the OpenAPI document shows) is
/// written out in `http/openapi/schemas.rs` (`action_spec`): one object per kind, no other
/// properties.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionSpec {
    /// See [`ActionKind::Warn`].
    Warn {
        #[serde(default)]
        reason: Option<String>,
    },
    /// See [`ActionKind::DeleteMessage`].
    DeleteMessage {
        /// The message's id.
        message_id: String,
        #[serde(default)]
        reason: Option<String>,
    },
    /// See [`ActionKind::Mute`].
    Mute {
        /// 1-31536000 seconds; absent: until `unmute`.
        #[serde(default, deserialize_with = "crate::json_number::optional_integer")]
        duration_secs: Option<u64>,
        #[serde(default)]
        reason: Option<String>,
    },
    /// See [`ActionKind::Unmute`].
    Unmute {
        #[serde(default)]
        reason: Option<String>,
    },
    /// See [`ActionKind::Kick`].
    Kick {
        #[serde(default)]
        reason: Option<String>,
    },
    /// See [`ActionKind::Timeout`].
    Timeout {
        /// 1-31536000 seconds; absent: the policy's `default_timeout_secs`.
        #[serde(default, deserialize_with = "crate::json_number::optional_integer")]
        duration_secs: Option<u64>,
        #[serde(default)]
        reason: Option<String>,
    },
    /// See [`ActionKind::EndTimeout`].
    EndTimeout {
        #[serde(default)]
        reason: Option<String>,
    },
    /// See [`ActionKind::Ban`].
    Ban {
        /// 1-31536000 seconds; absent: until `unban`.
        #[serde(default, deserialize_with = "crate::json_number::optional_integer")]
        duration_secs: Option<u64>,
        #[serde(default)]
        reason: Option<String>,
    },
    /// See [`ActionKind::Unban`].
    Unban {
        #[serde(default)]
        reason: Option<String>,
    },
    /// See [`ActionKind::RemoveRole`].
    RemoveRole {
        #[serde(default)]
        reason: Option<String>,
    },
}

impl From<ActionSpec> for ActionRequest {
    fn from(spec: ActionSpec) -> ActionRequest {
        let plain = |kind: ActionKind, reason: Option<String>| ActionRequest {
            kind,
            duration_secs: None,
            message_id: None,
            reason,
        };
        match spec {
            ActionSpec::Warn { reason } => plain(ActionKind::Warn, reason),
            ActionSpec::DeleteMessage { message_id, reason } => ActionRequest {
                message_id: Some(message_id),
                ..plain(ActionKind::DeleteMessage, reason)
            },
            ActionSpec::Mute {
                duration_secs,
                reason,
            } => ActionRequest {
                duration_secs,
                ..plain(ActionKind::Mute, reason)
            },
            ActionSpec::Unmute { reason } => plain(ActionKind::Unmute, reason),
            ActionSpec::Kick { reason } => plain(ActionKind::Kick, reason),
            ActionSpec::Timeout {
                duration_secs,
                reason,
            } => ActionRequest {
                duration_secs,
                ..plain(ActionKind::Timeout, reason)
            },
            ActionSpec::EndTimeout { reason } => plain(ActionKind::EndTimeout, reason),
            ActionSpec::Ban {
                duration_secs,
                reason,
            } => ActionRequest {
                duration_secs,
                ..plain(ActionKind::Ban, reason)
            },
            ActionSpec::Unban { reason } => plain(ActionKind::Unban, reason),
            ActionSpec::RemoveRole { reason } => plain(ActionKind::RemoveRole, reason),
        }
    }
}

/// An action as recorded (and as a proposal carries it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// What to do.
    pub kind: ActionKind,
    /// For `mute`, `timeout` and `ban`: how long, 1 to 31536000 seconds. Absent: the policy's
    /// default for a timeout; until lifted for a mute or a ban.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 31536000)]
    pub duration_secs: Option<u64>,
    /// For `delete_message`: the message's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Why (shown to the target with the event and kept in the record), at most 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A case's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// No action taken yet.
    Open,
    /// At least one action was taken on it.
    Actioned,
}

/// One reported message as the reporter discloses it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisclosedMessage {
    /// The envelope's id (it must exist in a channel of the case's server).
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub message_id: String,
    /// The plaintext the reporter reveals (only if the policy allows disclosures), at most
    /// 16384 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 16384)]
    pub plaintext: Option<String>,
    /// Key material the reporter reveals so others can check the plaintext against the
    /// ciphertext (opaque to the server), at most 8192 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 8192)]
    pub key_material: Option<String>,
}

/// What a reporter discloses with a case: the server cannot read messages, so a report carries
/// what the reporter chooses to reveal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportBundle {
    /// 1 to 50 messages.
    #[schema(min_items = 1, max_items = 50)]
    pub messages: Vec<DisclosedMessage>,
}

/// `POST /v1/moderation/cases`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCase {
    /// The server.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub server_id: String,
    /// Who the case is about.
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$")]
    pub target_user_id: String,
    /// Why, 1 to 500 characters (not blank, no control characters).
    #[schema(
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        max_length = 500
    )]
    pub reason: String,
    /// The reporter's disclosure.
    #[serde(default)]
    pub report: Option<ReportBundle>,
}

/// A case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Case {
    pub case_id: String,
    pub server_id: String,
    pub target_user_id: String,
    pub opened_by: String,
    pub reason: String,
    pub state: CaseState,
    /// The report bundle: present for those the policy lets read bundles, and the reporter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportBundle>,
    /// Whether the case has a report bundle (whoever reads it).
    pub has_report: bool,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
    /// Actions taken on it, oldest first (`GET` of one case only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionRecord>,
    /// Its proposals, oldest first (`GET` of one case only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub proposals: Vec<ProposalRecord>,
}

/// A page of cases, newest first.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CasePage {
    pub cases: Vec<Case>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Filters of `GET /v1/moderation/cases`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct CaseQuery {
    pub server_id: String,
    pub state: Option<CaseState>,
    pub target_user_id: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// An action taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ActionRecord {
    pub action_id: String,
    pub case_id: String,
    pub kind: ActionKind,
    pub target_user_id: String,
    /// Who took it; absent when a vote carried it out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_user_id: Option<String>,
    /// The proposal whose vote carried it out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposal_id: Option<String>,
    /// When its effect ends (mute, timeout, ban with a duration), unix milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<i64>,
    pub request: ActionRequest,
    pub created_at: i64,
}

/// A proposal's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProposalState {
    /// Taking votes.
    Open,
    /// The vote passed and the action was carried out (once).
    Executed,
    /// Its lifetime ended before the vote passed.
    Expired,
}

/// A proposal and its votes so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProposalRecord {
    pub proposal_id: String,
    pub case_id: String,
    pub action: ActionRequest,
    pub state: ProposalState,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// Votes for and against.
    pub votes_for: u32,
    pub votes_against: u32,
    /// The action it carried out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_id: Option<String>,
}

/// What a vote did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct VoteOutcome {
    /// The proposal after the vote.
    pub proposal: ProposalRecord,
    /// The action this vote carried out, if it was the deciding one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executed: Option<ActionRecord>,
}

/// One audit log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct AuditEntry {
    /// Increasing within the log.
    pub seq: i64,
    pub server_id: String,
    /// Who did it; absent for what the server did on its own (an expiry, a vote's execution).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// `policy_updated`, `case_opened`, `action_taken`, `proposal_created`, `vote_cast`,
    /// `proposal_executed`, `proposal_expired`, `restriction_lapsed`.
    pub kind: String,
    /// The policy's server, case, action or proposal id.
    pub subject_id: String,
    /// What changed (a JSON object).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub created_at: i64,
}

/// A page of the audit log, oldest first.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
