//! Inputs, outputs and errors of sends and history reads.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::epochs::AccessError;
use crate::{ControlError, FieldErrors, UnknownVariant};

/// What an envelope is, as far as the server needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ContentType {
    /// A new message.
    Message,
    /// A new version of `refers_to` (opaque).
    Edit,
    /// Deletes `refers_to` (sent by its author): the target's ciphertext is erased (tombstone).
    Delete,
    /// A reaction to `refers_to` (opaque).
    Reaction,
}

impl ContentType {
    /// The stored and serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Message => "message",
            ContentType::Edit => "edit",
            ContentType::Delete => "delete",
            ContentType::Reaction => "reaction",
        }
    }
}

impl FromStr for ContentType {
    type Err = UnknownVariant;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "message" => Ok(ContentType::Message),
            "edit" => Ok(ContentType::Edit),
            "delete" => Ok(ContentType::Delete),
            "reaction" => Ok(ContentType::Reaction),
            other => Err(UnknownVariant(other.to_owned())),
        }
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Body of `POST /v1/channels/{id}/messages`. The sender device is the caller's.
///
/// `content_type` decides the other fields (the document states it with a `oneOf`, see
/// `http::openapi::refine`): `message` has no `refers_to` and a non-empty ciphertext; `edit`
/// and `reaction` need both; `delete` needs `refers_to` and may have an empty ciphertext.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// Idempotency key chosen by the client (`[A-Za-z0-9_-]{1,64}`, e.g. a UUID): a retry with
    /// the same id returns the original message.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub client_message_id: String,
    /// The epoch the ciphertext was encrypted for.
    #[schema(minimum = 0)]
    #[serde(deserialize_with = "crate::json_number::integer")]
    pub epoch: i64,
    /// The opaque ciphertext, base64 (at most 64 KiB decoded; may be empty for `delete`).
    #[schema(schema_with = crate::http::openapi::schemas::base64_64k_or_empty)]
    pub ciphertext: String,
    /// What the envelope is (default `message`).
    #[serde(default = "default_content_type")]
    pub content_type: ContentType,
    /// Small authenticated metadata: a JSON object of at most 1 KiB serialized (413 above).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// The message an edit, delete or reaction refers to.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub refers_to: Option<String>,
}

fn default_content_type() -> ContentType {
    ContentType::Message
}

/// A stored envelope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    /// Id, `msg_<random>`.
    pub id: String,
    /// The channel.
    pub channel_id: String,
    /// Position in the channel (1, 2, ...), in commit order; history cursors are built from it.
    pub seq: i64,
    /// The epoch it was encrypted for.
    pub epoch: i64,
    /// The sender's user.
    pub sender_user_id: String,
    /// The sender's device.
    pub sender_device_id: String,
    /// The client's idempotency key.
    pub client_message_id: String,
    /// What it is.
    pub content_type: ContentType,
    /// The message it refers to (edits, deletes, reactions).
    pub refers_to: Option<String>,
    /// The ciphertext, base64; `None` once deleted.
    pub ciphertext: Option<String>,
    /// The authenticated metadata (a JSON object).
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// When it was accepted, unix milliseconds.
    pub created_at: i64,
    /// When its author deleted it, unix milliseconds.
    pub deleted_at: Option<i64>,
}

/// Result of a send.
#[derive(Clone, Debug, PartialEq)]
pub struct SendOutcome {
    /// The stored message (the original one for a retry).
    pub message: Message,
    /// `false` when this was a retry of an accepted send.
    pub created: bool,
}

/// Which way a history page goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HistoryDirection {
    /// Newest first, towards older messages (the default).
    #[default]
    Backward,
    /// Oldest first, towards newer messages.
    Forward,
}

/// A history request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Opaque cursor from a previous page's `next_cursor`; `None` starts at the newest
    /// (backward) or oldest (forward) message.
    pub cursor: Option<String>,
    /// Page size, 1-200 (default 50).
    pub limit: Option<i64>,
    /// Direction.
    pub direction: HistoryDirection,
}

/// A page of history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct History {
    /// Messages, in the requested direction.
    pub messages: Vec<Message>,
    /// Cursor to continue in the same direction (the last message's position); `None` when the
    /// page is empty.
    pub next_cursor: Option<String>,
    /// Whether more messages exist beyond this page (at the time of the read).
    pub has_more: bool,
}

/// Why a send was refused. Nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No such channel, or the caller is not a member of its server.
    #[error("channel not found")]
    ChannelNotFound,
    /// Invalid input; the map says which fields and why.
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// Ciphertext over 64 KiB or metadata over 1 KiB.
    #[error("payload too large")]
    PayloadTooLarge,
    /// The sending device is not a member at the current epoch (or at the message's epoch).
    #[error("the sending device is not a member of the channel at this epoch")]
    NotAMember,
    /// The epoch is older than the grace window allows.
    #[error("stale epoch")]
    StaleEpoch {
        /// The channel's current epoch.
        current_epoch: i64,
    },
    /// The epoch is newer than the channel's.
    #[error("unknown epoch")]
    UnknownEpoch {
        /// The channel's current epoch.
        current_epoch: i64,
    },
    /// `refers_to` names no message of this channel.
    #[error("referenced message not found")]
    ReferenceNotFound,
    /// Only the author may delete a message.
    #[error("only the author may delete a message")]
    NotTheAuthor,
    /// The client message id was already used for a different envelope.
    #[error("client_message_id already used for a different envelope")]
    ClientMessageIdReused,
    /// The sender is banned or timed out in the channel's server.
    #[error("you may not send in this server now ({})", .0.code())]
    Restricted(crate::Restriction),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] ControlError),
}

impl SendError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            SendError::ChannelNotFound => "channel_not_found",
            SendError::Invalid(_) => "invalid_request",
            SendError::PayloadTooLarge => "payload_too_large",
            SendError::NotAMember => "not_a_channel_member",
            SendError::StaleEpoch { .. } => "stale_epoch",
            SendError::UnknownEpoch { .. } => "unknown_epoch",
            SendError::ReferenceNotFound => "message_not_found",
            SendError::NotTheAuthor => "forbidden",
            SendError::ClientMessageIdReused => "client_message_id_reused",
            SendError::Restricted(r) => r.code(),
            SendError::Storage(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for SendError {
    fn from(e: sqlx::Error) -> Self {
        SendError::Storage(e.into())
    }
}

impl From<AccessError> for SendError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::ChannelNotFound => SendError::ChannelNotFound,
            AccessError::Storage(e) => SendError::Storage(e),
        }
    }
}

/// Why a history read was refused.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// No such channel, or the caller is not a member of its server.
    #[error("channel not found")]
    ChannelNotFound,
    /// Malformed cursor or limit.
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] ControlError),
}

impl HistoryError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            HistoryError::ChannelNotFound => "channel_not_found",
            HistoryError::Invalid(_) => "invalid_request",
            HistoryError::Storage(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for HistoryError {
    fn from(e: sqlx::Error) -> Self {
        HistoryError::Storage(e.into())
    }
}

impl From<AccessError> for HistoryError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::ChannelNotFound => HistoryError::ChannelNotFound,
            AccessError::Storage(e) => HistoryError::Storage(e),
        }
    }
}
