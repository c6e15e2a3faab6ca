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

use crate::Control;
use crate::db::Backend;

/// PostgreSQL `NOTIFY` channel announcing new outbox rows to every openchatd process (the
/// statement in [`Control::outbox_committed`] spells it out).
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

/// Appends one event inside the caller's transaction and returns its id. After the commit, call
/// [`Control::outbox_committed`] so the local dispatcher and other processes fetch it at once.
pub(crate) async fn append(
    conn: &mut AnyConnection,
    backend: Backend,
    kind: &str,
    audience: Audience<'_>,
    payload: &Value,
    now: i64,
) -> Result<i64, sqlx::Error> {
    let (audience, channel_id, epoch, user_id, device_id) = audience.columns();
    // PostgreSQL: one round trip (the counter row stays locked until commit either way).
    // SQLite: the whole database is locked by the writer; two statements cost nothing extra.
    let (sql, id) = match backend {
        Backend::Postgres => (
            "WITH c AS (UPDATE outbox_counter SET last_id = last_id + 1 WHERE id = 1 \
             RETURNING last_id) INSERT INTO outbox (id, kind, audience, channel_id, epoch, \
             user_id, device_id, payload, created_at) \
             SELECT c.last_id, $1, $2, $3, $4, $5, $6, $7, $8 FROM c RETURNING id",
            None,
        ),
        Backend::Sqlite => {
            let id: i64 = sqlx::query_scalar(
                "UPDATE outbox_counter SET last_id = last_id + 1 WHERE id = 1 RETURNING last_id",
            )
            .fetch_one(&mut *conn)
            .await?;
            (
                "INSERT INTO outbox (id, kind, audience, channel_id, epoch, user_id, device_id, \
                 payload, created_at) VALUES ($9, $1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                Some(id),
            )
        }
    };
    let mut query = sqlx::query_scalar(sql)
        .bind(kind)
        .bind(audience)
        .bind(channel_id)
        .bind(epoch)
        .bind(user_id)
        .bind(device_id)
        .bind(payload.to_string())
        .bind(now);
    if let Some(id) = id {
        query = query.bind(id);
    }
    query.fetch_one(&mut *conn).await
}

/// A write transaction, and on SQLite the in-process writer gate held until it is dropped.
pub(crate) type WriteTx<'a> = (
    sqlx::Transaction<'static, sqlx::Any>,
    Option<tokio::sync::MutexGuard<'a, ()>>,
);

impl Control {
    /// Begins a transaction that will write. On SQLite, writers of this process first queue on
    /// an async mutex (FIFO), instead of polling SQLite's lock with its busy handler, which under
    /// load starves some writers past the busy timeout. Keep the gate (second element) alive
    /// until the transaction ends.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx<'_>, sqlx::Error> {
        let gate = match self.backend {
            Backend::Sqlite => Some(self.hub.write_gate.lock().await),
            Backend::Postgres => None,
        };
        Ok((self.pool().begin().await?, gate))
    }

    /// To call after committing a transaction that appended events: wakes this process's
    /// dispatcher and, on PostgreSQL, sends `NOTIFY` (outside any lock) to the other processes.
    /// A lost notification costs at most one dispatcher poll interval.
    pub(crate) fn outbox_committed(&self) {
        self.hub.wake();
        if self.backend == Backend::Postgres {
            let pool = self.pool().clone();
            tokio::spawn(async move {
                if let Err(e) = sqlx::raw_sql("NOTIFY openchat_outbox").execute(&pool).await {
                    tracing::debug!(error = %e, "outbox NOTIFY failed; peers will poll");
                }
            });
        }
    }
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
