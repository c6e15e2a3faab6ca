//! The transactional outbox: every realtime event is a row written in the same transaction as
//! the state change it describes, so an event exists if and only if its change committed.
//!
//! Ordering rule: [`append`] bumps the single `outbox_counter` row, which row-locks it until the
//! transaction ends. Event ids are therefore assigned in commit order, and a reader tailing
//! `id > last` (the realtime dispatcher, a resuming client) never skips an event that commits
//! later with a smaller id. Call [`append`] as the *last* statements of a transaction, after any
//! channel row lock (lock order: channel row, then outbox counter), to keep that lock short.

use serde_json::Value;
use sqlx::AnyConnection;

use crate::db::Backend;

/// PostgreSQL `NOTIFY` channel announcing new outbox rows to every openchatd process.
pub(crate) const NOTIFY_CHANNEL: &str = "openchat_outbox";

/// Event kinds (the `kind` of realtime `event` frames).
pub(crate) mod kind {
    /// A message envelope (message, edit, delete, reaction) was accepted.
    pub const MESSAGE_CREATED: &str = "message_created";
    /// A membership commit was accepted.
    pub const MEMBERSHIP_COMMITTED: &str = "membership_committed";
    /// A channel moved to a new epoch.
    pub const EPOCH_ADVANCED: &str = "epoch_advanced";
    /// A server-originated proposal awaits a commit.
    pub const PROPOSAL_PENDING: &str = "proposal_pending";
    /// A key envelope waits for a device.
    pub const KEY_ENVELOPE_PENDING: &str = "key_envelope_pending";
    /// Someone is typing in a channel (ephemeral: not replayed on resume).
    pub const TYPING: &str = "typing";
    /// A user came online or went offline (ephemeral: not replayed on resume).
    pub const PRESENCE: &str = "presence";
}

/// Who receives an event.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Audience<'a> {
    /// Devices that are members of the channel at this epoch.
    ChannelEpoch { channel_id: &'a str, epoch: i64 },
    /// Devices that are members of the channel at `epoch - 1` or at `epoch` (a commit's
    /// audience: the old group, including removed devices, plus the added ones).
    ChannelCommit { channel_id: &'a str, epoch: i64 },
    /// One device.
    Device {
        user_id: &'a str,
        device_id: &'a str,
    },
    /// Every device of every user sharing a server with `user_id`.
    UserPeers { user_id: &'a str },
}

impl Audience<'_> {
    fn columns(
        &self,
    ) -> (
        &'static str,
        Option<&str>,
        Option<i64>,
        Option<&str>,
        Option<&str>,
    ) {
        match *self {
            Audience::ChannelEpoch { channel_id, epoch } => {
                ("channel_epoch", Some(channel_id), Some(epoch), None, None)
            }
            Audience::ChannelCommit { channel_id, epoch } => {
                ("channel_commit", Some(channel_id), Some(epoch), None, None)
            }
            Audience::Device { user_id, device_id } => {
                ("device", None, None, Some(user_id), Some(device_id))
            }
            Audience::UserPeers { user_id } => ("user_peers", None, None, Some(user_id), None),
        }
    }
}

/// Appends one event inside the caller's transaction and returns its id. On PostgreSQL it also
/// queues a `NOTIFY` (delivered at commit) so other processes fetch it at once.
pub(crate) async fn append(
    conn: &mut AnyConnection,
    backend: Backend,
    kind: &str,
    audience: Audience<'_>,
    payload: &Value,
    now: i64,
) -> Result<i64, sqlx::Error> {
    let id: i64 = sqlx::query_scalar(
        "UPDATE outbox_counter SET last_id = last_id + 1 WHERE id = 1 RETURNING last_id",
    )
    .fetch_one(&mut *conn)
    .await?;
    let (audience, channel_id, epoch, user_id, device_id) = audience.columns();
    sqlx::query(
        "INSERT INTO outbox (id, kind, audience, channel_id, epoch, user_id, device_id, payload, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(kind)
    .bind(audience)
    .bind(channel_id)
    .bind(epoch)
    .bind(user_id)
    .bind(device_id)
    .bind(payload.to_string())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if backend == Backend::Postgres {
        sqlx::raw_sql("NOTIFY openchat_outbox")
            .execute(&mut *conn)
            .await?;
    }
    Ok(id)
}

/// Convenience for other control modules (e.g. key envelopes): appends a
/// `key_envelope_pending` event for one device, inside the caller's transaction.
#[allow(dead_code)]
pub(crate) async fn append_key_envelope_pending(
    conn: &mut AnyConnection,
    backend: Backend,
    user_id: &str,
    device_id: &str,
    payload: &Value,
    now: i64,
) -> Result<i64, sqlx::Error> {
    append(
        conn,
        backend,
        kind::KEY_ENVELOPE_PENDING,
        Audience::Device { user_id, device_id },
        payload,
        now,
    )
    .await
}
