//! Errors of the control plane's storage layer.

/// Failure to reach, prepare or query the database.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The database URL is neither `sqlite:` nor `postgres://`/`postgresql://`.
    #[error("unsupported database URL (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
    /// The directory holding the SQLite file could not be created.
    #[error("cannot create the database directory: {0}")]
    DataDir(#[source] std::io::Error),
    /// A query or connection failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value violates an invariant (for example an unknown role string).
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}
