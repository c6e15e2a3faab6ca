//! OpenChat control plane.
//!
//! Room rule: **control owns durable state and its rules** — servers (communities), channels,
//! membership, bans and, later, the membership timeline, epoch commit chain, envelopes, devices
//! and key envelopes, moderation and the audit log. It never parses SDP or RTP, and it never
//! talks to the sfu: decisions that touch live rooms leave control as values (such as an
//! [`Admission`]) or events that signaling applies.
//!
//! Storage is `sqlx::any` over SQLite (embedded default, WAL mode) or PostgreSQL; the same
//! queries, the same migrations (one folder per database under `migrations/`) and the same test
//! suite run on both.
//!
//! Usage:
//! ```no_run
//! # async fn demo() -> Result<(), control::ControlError> {
//! use control::{Control, ControlOptions};
//! let control = Control::connect("sqlite://data/openchat.db", ControlOptions { dev_mode: true }).await?;
//! control.migrate().await?;
//! control.seed_dev().await?;
//! let admission = control.admit_to_channel("alice", "vc_general", None).await;
//! # let _ = admission; Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod admission;
mod db;
mod error;
pub mod http;
mod model;
mod seed;
mod servers;
pub mod testing;
mod validate;

pub use admission::{Admission, AdmissionError, Grants, grants_for};
pub use error::ControlError;
pub use http::{ApiError, Caller, ErrorBody, ErrorDetail};
pub use model::{Ban, Channel, ChannelKind, Member, Role, Server, UnknownVariant};
pub use servers::{JoinedServer, NewChannel, NewServer, ServersError};
pub use validate::{FieldErrors, is_valid_id};

use db::Backend;
use sqlx::AnyPool;

/// Options of the control plane.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ControlOptions {
    /// Development mode: the seeded server `srv_harbor` admits any user (see
    /// [`Control::admit_to_channel`]). Never enable in production.
    pub dev_mode: bool,
}

/// Handle to the control plane: a database pool and options. Cloning is cheap.
#[derive(Clone, Debug)]
pub struct Control {
    pool: AnyPool,
    backend: Backend,
    opts: ControlOptions,
}

impl Control {
    /// Connects to `database_url` (`sqlite://...` or `postgres://...`).
    ///
    /// For SQLite, the database file and its parent directory are created if missing, and every
    /// connection uses WAL journaling with foreign keys enforced. This does not run migrations:
    /// call [`Control::migrate`].
    pub async fn connect(
        database_url: &str,
        opts: ControlOptions,
    ) -> Result<Control, ControlError> {
        let (pool, backend) = db::connect(database_url).await?;
        Ok(Control {
            pool,
            backend,
            opts,
        })
    }

    /// Applies the embedded migrations for this database (`migrations/sqlite` or
    /// `migrations/postgres`). Safe to call on every start.
    pub async fn migrate(&self) -> Result<(), ControlError> {
        db::migrate(&self.pool, self.backend).await
    }

    /// Checks that the database answers (for readiness probes).
    pub async fn ping(&self) -> Result<(), ControlError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The options this handle was created with.
    pub fn options(&self) -> ControlOptions {
        self.opts
    }

    /// Closes the pool; later calls fail. Useful before dropping a test database.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Control's HTTP routes (`/v1/servers...`), with state applied.
    ///
    /// Handlers read the authenticated [`Caller`] from the request extensions (inserted by
    /// signaling's auth middleware); without it they answer 401 `missing_token`.
    pub fn router(&self) -> axum::Router {
        http::router(self.clone())
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
}
