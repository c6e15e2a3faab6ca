//! OpenChat control plane.
//!
//! Room rule: **control owns durable state and its rules** — servers (communities), channels,
//! membership, bans and, later, the membership timeline, epoch commit chain, envelopes, devices
//! and key envelopes, moderation and the audit log. It never parses SDP or RTP, and it never
//! talks to the sfu: decisions that touch live rooms leave control as values (such as an
//! [`Admission`]) or events that signaling applies.
//!
//! Layout, by folder: `communities/` (servers, channels, roles, invitations, members), `epochs/`,
//! `messages/`, `devices/`, `keys/`, `profiles/`, `moderation/` (policy, cases, actions, votes,
//! audit); `outbox.rs` (the `Write` unit of work: its commit
//! releases the SQLite writer gate and wakes the dispatcher); `realtime/` (fanout, its owned
//! background tasks, live-only typing and presence); `settings.rs` (the `[control]` config
//! section); `http/` (routes and the OpenAPI document).
//!
//! Storage is `sqlx::any` over SQLite (embedded default, WAL mode) or PostgreSQL; the same
//! queries, the same migrations (one folder per database under `migrations/`) and the same test
//! suite run on both.
//!
//! Usage:
//! ```no_run
//! # async fn demo() -> Result<(), control::ControlError> {
//! use control::{Control, ControlOptions};
//! let options = ControlOptions { dev_mode: true, ..ControlOptions::default() };
//! let control = Control::connect("sqlite://data/openchat.db", options).await?;
//! control.migrate().await?;
//! control.seed_dev().await?;
//! let admission = control.admit_to_channel("alice", "vc_general", None).await;
//! # let _ = admission; Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod admission;
mod clock;
mod communities;
mod db;
mod devices;
mod epochs;
mod error;
pub mod http;
mod json_number;
mod keys;
mod messages;
mod model;
mod moderation;
mod outbox;
mod payload;
mod profiles;
pub mod realtime;
mod seed;
mod settings;
mod stats;
pub mod testing;
mod validate;
pub mod websocket;

pub use admission::{Admission, AdmissionError, Grants, grants_for};
pub use communities::{
    CommunitiesError, Invitation, InvitationPreview, JoinedServer, NewChannel, NewInvitation,
    NewServer, Permission, RolePermissions, ServersError,
};
pub use db::SqliteSynchronous;
pub use devices::{Device, DevicesError, LinkCode};
pub use epochs::{
    CommitError, CommitOutcome, CommitRequest, DeviceRef, MemberDevice, Membership, Proposal,
    ProposalError, Welcome, WelcomeMessage,
};
pub use error::ControlError;
pub use http::{ApiError, Caller, ErrorBody, ErrorDetail};
pub use keys::{
    ClaimedKeyPackage, KeyBackup, KeyEnvelope, KeyPackageCount, KeysError, NewKeyEnvelope,
    PendingEnvelopes,
};
pub use messages::{
    ContentType, History, HistoryDirection, HistoryError, HistoryQuery, Message, NewMessage,
    SendError, SendOutcome,
};
pub use model::{Ban, Channel, ChannelKind, Member, Role, Server, UnknownVariant};
pub use moderation::{
    ActionKind, ActionRecord, ActionRequest, ActionSpec, AuditEntry, AuditPage, Case, CasePage,
    CaseQuery, CaseState, DisclosedMessage, ModerationError, ModerationPolicy, NewCase,
    ProposalRecord, ProposalState, ReportBundle, Restriction, VoteOutcome,
};
pub use profiles::{Avatar, AvatarAsset, Profile, ProfileUpdate, ProfilesError};
pub use realtime::{AccessChange, BackgroundStopped};
pub use settings::{ControlSettings, InvalidSetting};
pub use stats::PoolStats;
pub use validate::{FieldErrors, is_valid_id};

use std::path::PathBuf;

use db::Backend;
use sqlx::AnyPool;

/// Options of the control plane. Build with `..ControlOptions::default()` so new fields keep
/// their defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlOptions {
    /// Development mode: the seeded server `srv_harbor` admits any user (see
    /// [`Control::admit_to_channel`]). Never enable in production.
    pub dev_mode: bool,
    /// Directory holding uploaded avatar images (created on first upload), e.g.
    /// `<data dir>/avatars`. `None`: avatar uploads answer 503 `avatars_unavailable`.
    pub avatar_dir: Option<PathBuf>,
    /// Largest accepted avatar image, in bytes (default 2 MiB); larger uploads answer 413.
    pub avatar_max_bytes: usize,
    /// Most active devices a user may have (default 6).
    pub max_devices_per_user: u32,
    /// Largest accepted key backup (decoded bytes, default 1 MiB); larger ones answer 413.
    pub key_backup_max_bytes: usize,
    /// How SQLite flushes commits (ignored on PostgreSQL). Default [`SqliteSynchronous::Full`]:
    /// an acknowledged write survives power loss, not only a crash of the process.
    pub sqlite_synchronous: SqliteSynchronous,
}

impl Default for ControlOptions {
    fn default() -> Self {
        ControlOptions {
            dev_mode: false,
            avatar_dir: None,
            avatar_max_bytes: 2 * 1024 * 1024,
            max_devices_per_user: 6,
            key_backup_max_bytes: 1024 * 1024,
            sqlite_synchronous: SqliteSynchronous::Full,
        }
    }
}

/// Handle to the control plane: a database pool and options. Cloning is cheap.
#[derive(Clone, Debug)]
pub struct Control {
    pool: AnyPool,
    backend: Backend,
    opts: ControlOptions,
    clock: clock::Clock,
    /// Realtime fanout shared by clones (subscribers, outbox dispatcher).
    hub: std::sync::Arc<realtime::Hub>,
    /// Pings, idle bound and going-away signal of realtime WebSockets.
    sockets: websocket::SocketPolicy,
}

impl Control {
    /// Connects to `database_url` (`sqlite://...` or `postgres://...`).
    ///
    /// For SQLite, the database file and its parent directory are created if missing, and every
    /// connection uses WAL journaling with foreign keys enforced and `synchronous` as
    /// [`ControlOptions::sqlite_synchronous`] says. This does not run migrations:
    /// call [`Control::migrate`].
    pub async fn connect(
        database_url: &str,
        opts: ControlOptions,
    ) -> Result<Control, ControlError> {
        let (pool, backend) = db::connect(database_url, opts.sqlite_synchronous).await?;
        Ok(Control {
            pool,
            backend,
            opts,
            clock: clock::Clock::default(),
            hub: Default::default(),
            sockets: websocket::SocketPolicy::default(),
        })
    }

    /// This handle with `policy` for the realtime WebSockets it serves (server pings, the idle
    /// bound, the process's going-away signal). Set it before building the routers.
    pub fn with_socket_policy(mut self, policy: websocket::SocketPolicy) -> Control {
        self.sockets = policy;
        self
    }

    /// The policy realtime WebSockets follow.
    pub fn socket_policy(&self) -> &websocket::SocketPolicy {
        &self.sockets
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
    pub fn options(&self) -> &ControlOptions {
        &self.opts
    }

    /// Closes the pool; later calls fail. Useful before dropping a test database.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Control's HTTP routes that need a caller (`/v1/servers...`), each registered with its
    /// OpenAPI entry; state applied. openchatd merges them with its own and mounts them behind
    /// its auth middleware.
    ///
    /// Handlers read the authenticated [`Caller`] from the request extensions (inserted by
    /// signaling's auth middleware); without it they answer 401 `missing_token`.
    pub fn api_routes(&self) -> utoipa_axum::router::OpenApiRouter {
        http::router(self.clone())
    }

    /// Control's routes that need no caller: `GET /v1/openapi.json` and
    /// `GET /v1/profile/avatar/{asset_id}` (content-addressed images, fetched by `<img>` tags),
    /// with their OpenAPI entries. Mount them outside the auth middleware; the document route
    /// serves the [`http::openapi::ApiDocument`] installed as an `Extension` layer.
    pub fn public_api_routes(&self) -> utoipa_axum::router::OpenApiRouter {
        http::public_router(self.clone())
    }

    /// [`Control::api_routes`] as a plain router, for control alone (tests, benches).
    pub fn router(&self) -> axum::Router {
        self.api_routes().into()
    }

    /// [`Control::public_api_routes`] as a plain router serving
    /// [`Control::openapi_document`], for control alone (tests, benches).
    pub fn public_router(&self) -> axum::Router {
        axum::Router::from(self.public_api_routes()).layer(axum::Extension(self.openapi_document()))
    }

    /// The OpenAPI document of control's own routes (openchatd serves the whole API's).
    pub fn openapi_document(&self) -> http::openapi::ApiDocument {
        let collected = self
            .public_api_routes()
            .merge(self.api_routes())
            .into_openapi();
        http::openapi::ApiDocument::new(collected)
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Access changes (device revoked, member removed), published by this process's realtime
    /// dispatcher as it reaches them in the outbox — so on every node, whichever node made the
    /// change. Starts the dispatcher if needed. A receiver that lags (`RecvError::Lagged`) has
    /// missed some: it must re-check every session it holds.
    pub fn access_changes(&self) -> tokio::sync::broadcast::Receiver<AccessChange> {
        let receiver = self.hub.access_changes.0.subscribe();
        self.start_background();
        receiver
    }
}

/// Entry points of the fuzz targets in `fuzz/` (feature `fuzzing`; not for production use).
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    pub use crate::profiles::sniff_image;
    pub use crate::realtime::decode_client_frame;
}
