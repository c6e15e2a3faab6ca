//! Inputs, outputs and errors of membership commits and proposals.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AccessError;
use crate::{ControlError, FieldErrors};

/// A device, named by its user and the device id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceRef {
    /// The device's user.
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$")]
    pub user_id: String,
    /// The device id (unique per user).
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$")]
    pub device_id: String,
}

impl DeviceRef {
    /// A device reference from borrowed parts.
    pub fn new(user_id: &str, device_id: &str) -> DeviceRef {
        DeviceRef {
            user_id: user_id.to_owned(),
            device_id: device_id.to_owned(),
        }
    }
}

/// A welcome message for a device the commit adds (opaque, base64).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Welcome {
    /// The added device's user.
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$")]
    pub user_id: String,
    /// The added device.
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$")]
    pub device_id: String,
    /// The welcome, base64 (at most 64 KiB decoded).
    #[schema(schema_with = crate::http::openapi::schemas::base64_64k_or_empty)]
    pub welcome: String,
}

/// Body of `POST /v1/channels/{id}/membership/commit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitRequest {
    /// The epoch the commit was made against: must be the channel's current epoch.
    #[schema(minimum = 0)]
    #[serde(deserialize_with = "crate::json_number::integer")]
    pub epoch: i64,
    /// The opaque commit, base64 (1 byte to 64 KiB decoded).
    #[schema(schema_with = crate::http::openapi::schemas::base64_64k)]
    pub commit: String,
    /// Devices the commit adds (a device may appear once in `added` and `removed` together;
    /// at most 4096 changes).
    #[serde(default)]
    #[schema(schema_with = crate::http::openapi::schemas::device_list)]
    pub added: Vec<DeviceRef>,
    /// Devices the commit removes.
    #[serde(default)]
    #[schema(schema_with = crate::http::openapi::schemas::device_list)]
    pub removed: Vec<DeviceRef>,
    /// Welcome messages for added devices, one each; released only once the commit is
    /// accepted.
    #[serde(default)]
    #[schema(max_items = 4096)]
    pub welcomes: Vec<Welcome>,
    /// Server-originated proposals this commit carries out. Every pending one must be listed.
    #[serde(default)]
    #[schema(schema_with = crate::http::openapi::schemas::proposal_ids)]
    pub proposal_ids: Vec<String>,
}

/// An accepted commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CommitOutcome {
    /// The channel.
    pub channel_id: String,
    /// The new epoch (the claimed one plus one).
    pub epoch: i64,
    /// The device that sent the commit.
    pub sender: DeviceRef,
    /// The opaque commit, base64, as sent.
    pub commit: String,
    /// Devices added (members from `epoch`).
    pub added: Vec<DeviceRef>,
    /// Devices removed (members up to `epoch - 1`).
    pub removed: Vec<DeviceRef>,
    /// Proposals carried out.
    pub proposal_ids: Vec<String>,
    /// When it was accepted, unix milliseconds.
    pub created_at: i64,
}

/// A member device of a channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MemberDevice {
    /// The device's user.
    pub user_id: String,
    /// The device.
    pub device_id: String,
    /// The epoch it joined (its current membership span).
    pub joined_epoch: i64,
}

/// A server-originated membership proposal (a removal), pending until a commit carries it out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Proposal {
    /// Id, `prop_<random>`.
    pub id: String,
    /// The channel.
    pub channel_id: String,
    /// Always `remove` for now.
    pub kind: String,
    /// The device's user.
    pub user_id: String,
    /// The device to remove.
    pub device_id: String,
    /// Free text from the moderator or system.
    pub reason: Option<String>,
    /// When it was made, unix milliseconds.
    pub created_at: i64,
}

/// A channel's current epoch, member devices and pending proposals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Membership {
    /// The channel.
    pub channel_id: String,
    /// The current epoch.
    pub epoch: i64,
    /// Member devices at the current epoch.
    pub members: Vec<MemberDevice>,
    /// Proposals waiting for a commit.
    pub pending_proposals: Vec<Proposal>,
}

/// A welcome addressed to the asking device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WelcomeMessage {
    /// The channel.
    pub channel_id: String,
    /// The epoch the device joined at.
    pub epoch: i64,
    /// The welcome, base64.
    pub welcome: String,
}

/// Why a membership commit was refused. Nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// No such channel, or the caller is not a member of its server.
    #[error("channel not found")]
    ChannelNotFound,
    /// Invalid input; the map says which fields and why.
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// The commit or a welcome is over 64 KiB, or too many changes.
    #[error("payload too large")]
    PayloadTooLarge,
    /// Another commit already moved the channel past the claimed epoch.
    #[error("the claimed epoch is not the current epoch")]
    EpochConflict {
        /// The channel's current epoch.
        current_epoch: i64,
    },
    /// The sending device is not a member of the channel at the claimed epoch.
    #[error("the sending device is not a member at this epoch")]
    SenderNotMember,
    /// An added or removed device does not qualify (`reason` says why).
    #[error("invalid membership change for {device:?}: {reason}")]
    InvalidChange {
        /// The device.
        device: DeviceRef,
        /// `unknown_device`, `revoked_device`, `not_a_server_member`, `already_a_member`,
        /// `not_a_member`, `unknown_proposal`, `proposal_not_applied`, `listed_twice` (in
        /// `added` and `removed` together) or `unexpected_welcome` (a welcome for a device
        /// the commit does not add, or a second one).
        reason: &'static str,
    },
    /// The sender is banned or timed out in the channel's server.
    #[error("you may not commit in this server now ({})", .0.code())]
    Restricted(crate::Restriction),
    /// The commit omits pending server-originated proposals.
    #[error("pending proposals must be committed")]
    PendingProposalsOmitted {
        /// The pending proposals the commit did not carry out.
        missing: Vec<Proposal>,
    },
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] ControlError),
}

impl CommitError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CommitError::ChannelNotFound => "channel_not_found",
            CommitError::Invalid(_) => "invalid_request",
            CommitError::PayloadTooLarge => "payload_too_large",
            CommitError::EpochConflict { .. } => "epoch_conflict",
            CommitError::SenderNotMember => "not_a_channel_member",
            CommitError::InvalidChange { .. } => "invalid_membership_change",
            CommitError::PendingProposalsOmitted { .. } => "pending_proposals_omitted",
            CommitError::Restricted(r) => r.code(),
            CommitError::Storage(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for CommitError {
    fn from(e: sqlx::Error) -> Self {
        CommitError::Storage(e.into())
    }
}

impl From<AccessError> for CommitError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::ChannelNotFound => CommitError::ChannelNotFound,
            AccessError::Storage(e) => CommitError::Storage(e),
        }
    }
}

/// Why a proposal (or a membership read) was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProposalError {
    /// No such channel, or the caller is not a member of its server.
    #[error("channel not found")]
    ChannelNotFound,
    /// The caller's role does not allow proposing removals.
    #[error("insufficient role")]
    Forbidden,
    /// Invalid input.
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// The device is not a current member of the channel.
    #[error("the device is not a member of the channel")]
    NotAMember,
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] ControlError),
}

impl ProposalError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ProposalError::ChannelNotFound => "channel_not_found",
            ProposalError::Forbidden => "forbidden",
            ProposalError::Invalid(_) => "invalid_request",
            ProposalError::NotAMember => "not_a_channel_member",
            ProposalError::Storage(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for ProposalError {
    fn from(e: sqlx::Error) -> Self {
        ProposalError::Storage(e.into())
    }
}

impl From<AccessError> for ProposalError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::ChannelNotFound => ProposalError::ChannelNotFound,
            AccessError::Storage(e) => ProposalError::Storage(e),
        }
    }
}
