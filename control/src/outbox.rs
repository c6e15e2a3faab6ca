//! The transactional outbox: every realtime event is a row written in the same transaction as
//! the state change it describes, so an event exists if and only if its change committed.
//!
//! Ordering rule: [`append`] bumps the single `outbox_counter` row, which row-locks it until the
//! transaction ends. Event ids are therefore assigned in commit order, and a reader tailing
//! `id > last` (the realtime dispatcher, a resuming client) never skips an event that commits
//! later with a smaller id. Call [`Write::append`] as the *last* statements of a transaction, after any
//! channel row lock (lock order: channel row, then outbox counter), to keep that lock short.

use serde_json::Value;
use sqlx::AnyConnection;

use crate::Control;
use crate::db::Backend;

/// PostgreSQL `NOTIFY` channel announcing new outbox rows to every openchatd process (the
/// statement in `realtime/background.rs` spells it out).
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
    /// Someone is typing in a channel (live only: never written to the outbox, see
    /// `realtime/ephemeral.rs`).
    pub const TYPING: &str = "typing";
    /// A user came online or went offline (live only, like [`TYPING`]).
    pub const PRESENCE: &str = "presence";
    /// A device was revoked: it may no longer act; its live sessions end.
    pub const DEVICE_REVOKED: &str = "device_revoked";
    /// A user became a member of a server.
    pub const MEMBER_ADDED: &str = "member_added";
    /// A user stopped being a member of a server (left or removed): its live sessions in the
    /// server's rooms end and its devices stop receiving the server's channel events.
    pub const MEMBER_REMOVED: &str = "member_removed";
    /// A moderation action concerns the user (warned, muted, kicked, timed out, banned, a
    /// restriction lifted or lapsed): signaling applies it to their live rooms.
    pub const MODERATION_ACTION: &str = "moderation_action";
    /// Moderation erased a message's ciphertext (a tombstone).
    pub const MESSAGE_REMOVED: &str = "message_removed";
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
    /// Every device of `user_id`.
    User { user_id: &'a str },
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
            Audience::User { user_id } => ("user", None, None, Some(user_id), None),
        }
    }
}

/// Appends one event inside `conn`'s transaction and returns its id (callers use [`Write::append`]).
async fn append(
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

/// A write transaction: the unit of every change control makes.
///
/// The rules it keeps, so callers do not have to:
/// - On SQLite it first queues on this process's writer gate (FIFO), instead of polling SQLite's
///   lock with the busy handler, which under load starves some writers past the busy timeout.
///   The gate is released the moment the transaction ends ([`Write::commit`], or drop = rollback),
///   so no code after the commit can run while holding it (two deadlocks came from that).
/// - Events appended with [`Write::append`] become visible only with the commit; the commit then
///   wakes this process's dispatcher and, on PostgreSQL, `NOTIFY`s the other processes. A
///   rolled-back transaction wakes nobody.
///
/// Queries run on it through `&mut *write` (it dereferences to the transaction's connection).
pub(crate) struct Write<'a> {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    gate: Option<tokio::sync::MutexGuard<'a, ()>>,
    control: &'a Control,
    appended: bool,
}

impl std::ops::Deref for Write<'_> {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for Write<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

impl Write<'_> {
    /// Appends one event (see [`append`]); it is delivered once this transaction commits.
    pub(crate) async fn append(
        &mut self,
        kind: &str,
        audience: Audience<'_>,
        payload: &Value,
        now: i64,
    ) -> Result<i64, sqlx::Error> {
        let backend = self.control.backend;
        let id = append(&mut self.tx, backend, kind, audience, payload, now).await?;
        self.appended = true;
        Ok(id)
    }

    /// Commits, releases the writer gate, then announces appended events.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        let Write {
            tx,
            gate,
            control,
            appended,
        } = self;
        let committed = tx.commit().await;
        drop(gate);
        committed?;
        if appended {
            control.outbox_committed();
        }
        Ok(())
    }

    /// Rolls back and releases the writer gate (dropping a `Write` does the same).
    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl Control {
    /// Begins a [`Write`] (on SQLite, after queuing on the writer gate).
    pub(crate) async fn write(&self) -> Result<Write<'_>, sqlx::Error> {
        let gate = match self.backend {
            Backend::Sqlite => Some(self.hub.write_gate.lock().await),
            Backend::Postgres => None,
        };
        Ok(Write {
            tx: self.pool().begin().await?,
            gate,
            control: self,
            appended: false,
        })
    }

    /// Begins a [`Write`] that does not queue on the SQLite writer gate (SQLite's busy handler
    /// waits instead). Only for rare writes that may run while this task already holds the gate.
    pub(crate) async fn write_ungated(&self) -> Result<Write<'_>, sqlx::Error> {
        Ok(Write {
            tx: self.pool().begin().await?,
            gate: None,
            control: self,
            appended: false,
        })
    }
}
