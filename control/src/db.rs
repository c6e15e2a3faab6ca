//! Database plumbing: connecting (SQLite file creation, WAL), migrations, ids and clocks.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use rand::distr::Alphanumeric;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

use crate::ControlError;

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");

/// Which database a URL points at; picks the migrator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub(crate) fn from_url(url: &str) -> Result<Backend, ControlError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(ControlError::UnsupportedUrl)
        }
    }
}

/// SQLite's `synchronous` setting: when a commit is flushed to stable storage.
///
/// In WAL mode (which openchatd always uses) both levels survive a crash of the process (kill -9):
/// a commit is in the WAL file, in the OS page cache, when it returns. They differ on power loss
/// or a kernel crash:
///
/// - `Full` (the default) fsyncs the WAL on every commit before it returns, so an acknowledged
///   write (a 201 for a message) survives power loss. It costs one fsync per write transaction.
/// - `Normal` fsyncs only at checkpoints: the last commits before a power loss may be lost
///   (the database stays consistent). Faster on slow disks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// `PRAGMA synchronous = FULL`: durable against power loss.
    #[default]
    Full,
    /// `PRAGMA synchronous = NORMAL`: durable against process crashes only.
    Normal,
}

impl SqliteSynchronous {
    /// The pragma that sets it on a connection.
    fn pragma(self) -> &'static str {
        match self {
            SqliteSynchronous::Full => "PRAGMA synchronous = FULL",
            SqliteSynchronous::Normal => "PRAGMA synchronous = NORMAL",
        }
    }
}

pub(crate) async fn connect(
    url: &str,
    synchronous: SqliteSynchronous,
) -> Result<(AnyPool, Backend), ControlError> {
    sqlx::any::install_default_drivers();
    let backend = Backend::from_url(url)?;
    let pool = match backend {
        Backend::Postgres => AnyPoolOptions::new().connect(url).await?,
        Backend::Sqlite => {
            let SqliteUrl { url, in_memory } = prepare_sqlite_url(url)?;
            let mut options = AnyPoolOptions::new();
            if in_memory {
                // Through `sqlx::any`, every new connection to `:memory:` opens a database of its
                // own: keep exactly one connection, forever.
                options = options
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None);
            }
            options
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        // WAL is persistent per file; `synchronous` and `foreign_keys` are
                        // per connection.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute(synchronous.pragma()).await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        Ok(())
                    })
                })
                .connect(&url)
                .await?
        }
    };
    Ok((pool, backend))
}

/// A SQLite URL ready to connect to.
#[derive(Debug, PartialEq, Eq)]
struct SqliteUrl {
    url: String,
    in_memory: bool,
}

/// Creates the parent directory of a file-backed SQLite URL and asks SQLite to create the file
/// (`mode=rwc`) unless the URL already chose a mode.
fn prepare_sqlite_url(url: &str) -> Result<SqliteUrl, ControlError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or(ControlError::UnsupportedUrl)?;
    let (path, params) = match rest.split_once('?') {
        Some((path, params)) => (path, Some(params)),
        None => (rest, None),
    };
    let has_mode = params.is_some_and(|p| p.split('&').any(|kv| kv.starts_with("mode=")));
    let in_memory = path == ":memory:" || params.is_some_and(|p| p.contains("mode=memory"));
    if path.is_empty() {
        return Err(ControlError::UnsupportedUrl);
    }
    if in_memory {
        return Ok(SqliteUrl {
            url: url.to_owned(),
            in_memory,
        });
    }
    if let Some(parent) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(ControlError::DataDir)?;
    }
    let url = match (has_mode, params) {
        (true, _) => url.to_owned(),
        (false, Some(_)) => format!("{url}&mode=rwc"),
        (false, None) => format!("{url}?mode=rwc"),
    };
    Ok(SqliteUrl {
        url,
        in_memory: false,
    })
}

pub(crate) async fn migrate(pool: &AnyPool, backend: Backend) -> Result<(), ControlError> {
    let migrator = match backend {
        Backend::Sqlite => &SQLITE_MIGRATOR,
        Backend::Postgres => &POSTGRES_MIGRATOR,
    };
    migrator.run(pool).await?;
    Ok(())
}

/// Current time as unix milliseconds (the unit of every stored timestamp).
pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A fresh id `<prefix>_<16 random alphanumerics>` (about 95 bits of randomness).
pub(crate) fn new_id(prefix: &str) -> String {
    let suffix: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(16)
        .map(char::from)
        .collect();
    format!("{prefix}_{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_get_create_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a/b/oc.db");
        let url = format!("sqlite://{}", file.display());
        assert_eq!(
            prepare_sqlite_url(&url).expect("url").url,
            format!("{url}?mode=rwc")
        );
        assert!(file.parent().expect("parent").is_dir());
        assert_eq!(
            prepare_sqlite_url("sqlite::memory:").expect("url"),
            SqliteUrl {
                url: "sqlite::memory:".into(),
                in_memory: true
            }
        );
        assert_eq!(
            prepare_sqlite_url("sqlite://x.db?mode=ro")
                .expect("url")
                .url,
            "sqlite://x.db?mode=ro"
        );
    }

    #[tokio::test]
    async fn sqlite_synchronous_is_set_on_every_connection() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("oc.db").display());
        // PRAGMA synchronous reads 2 for FULL, 1 for NORMAL.
        for (level, expected) in [(SqliteSynchronous::Full, 2), (SqliteSynchronous::Normal, 1)] {
            let (pool, _) = connect(&url, level).await.expect("connect");
            let mut conns = Vec::new();
            for _ in 0..2 {
                conns.push(pool.acquire().await.expect("connection"));
            }
            for conn in &mut conns {
                let value: i64 = sqlx::query_scalar("PRAGMA synchronous")
                    .fetch_one(&mut **conn)
                    .await
                    .expect("pragma");
                assert_eq!(value, expected, "{level:?}");
            }
            drop(conns);
            pool.close().await;
        }
        assert_eq!(SqliteSynchronous::default(), SqliteSynchronous::Full);
    }

    #[test]
    fn backend_by_scheme() {
        assert_eq!(Backend::from_url("sqlite://x").ok(), Some(Backend::Sqlite));
        assert_eq!(
            Backend::from_url("postgresql://h/db").ok(),
            Some(Backend::Postgres)
        );
        assert!(Backend::from_url("mysql://h/db").is_err());
    }

    #[test]
    fn ids_have_prefix() {
        let id = new_id("srv");
        assert!(id.starts_with("srv_") && id.len() == 20);
        assert_ne!(new_id("srv"), id);
    }
}
