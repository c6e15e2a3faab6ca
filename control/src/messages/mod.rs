//! Chat envelopes: messages, edits, deletes (tombstones) and reactions, all opaque ciphertext
//! tagged with the sender device and the epoch, and history bound to membership.

mod history;
mod send;
mod types;

pub use types::{
    ContentType, History, HistoryDirection, HistoryError, HistoryQuery, Message, NewMessage,
    SendError, SendOutcome,
};

/// Largest serialized `metadata` object, in bytes.
pub const MAX_METADATA_BYTES: usize = 1024;

/// How many epochs behind the current one a message may still be sent at: in-flight messages
/// encrypted just before a commit landed.
pub const EPOCH_GRACE: i64 = 1;

/// How long after the commit that advanced the epoch a message for the previous epoch is still
/// accepted, in milliseconds.
pub const EPOCH_GRACE_MILLIS: i64 = 30_000;

/// Largest history page.
pub const MAX_HISTORY_LIMIT: i64 = 200;

/// History page size when none is asked.
pub const DEFAULT_HISTORY_LIMIT: i64 = 50;
