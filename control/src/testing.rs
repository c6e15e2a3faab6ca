//! Test support: fresh, migrated databases on SQLite and PostgreSQL.
//!
//! Always compiled (signaling's tests reuse it); nothing here runs unless called. Helpers panic
//! on failure, as tests want.
//!
//! PostgreSQL helpers read `DATABASE_URL` (any database on the server; it is only used to
//! create and drop `oc_test_<random>` databases). Without it they print
//! `skipped: DATABASE_URL not set` and return `None` — unless `CI=true`, where they panic.

use std::path::Path;

use rand::Rng;
use rand::distr::Alphanumeric;
use sqlx::{AnyConnection, AssertSqlSafe, Connection, Executor};

use crate::{Control, ControlOptions};

/// Keeps a temporary directory (holding a SQLite database) alive; deletes it on drop.
#[derive(Debug)]
pub struct TempDirGuard {
    dir: tempfile::TempDir,
    url: String,
}

impl TempDirGuard {
    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The database URL inside it.
    pub fn database_url(&self) -> &str {
        &self.url
    }
}

/// A migrated SQLite database in a fresh temporary directory, with default options.
pub async fn sqlite_temp() -> (Control, TempDirGuard) {
    sqlite_temp_with(ControlOptions::default()).await
}

/// A migrated SQLite database in a fresh temporary directory. Without an `avatar_dir` in
/// `opts`, avatars go to `avatars/` inside that directory.
pub async fn sqlite_temp_with(mut opts: ControlOptions) -> (Control, TempDirGuard) {
    let dir = tempfile::Builder::new()
        .prefix("oc-test-")
        .tempdir()
        .expect("create a temporary directory");
    if opts.avatar_dir.is_none() {
        opts.avatar_dir = Some(dir.path().join("avatars"));
    }
    let url = format!("sqlite://{}", dir.path().join("control.db").display());
    let control = Control::connect(&url, opts)
        .await
        .expect("connect to the temporary SQLite database");
    control.migrate().await.expect("migrate SQLite");
    (control, TempDirGuard { dir, url })
}

/// Owns a temporary PostgreSQL database; drops it (`WITH (FORCE)`) on drop or [`cleanup`].
///
/// [`cleanup`]: PgDbGuard::cleanup
#[derive(Debug)]
pub struct PgDbGuard {
    admin_url: String,
    name: String,
    url: String,
    dropped: bool,
    /// Holds the avatar directory (see [`postgres_fresh_with`]); deleted on drop.
    _avatars: Option<tempfile::TempDir>,
}

impl PgDbGuard {
    /// The temporary database's URL.
    pub fn database_url(&self) -> &str {
        &self.url
    }

    /// The temporary database's name (`oc_test_<random>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database now (from async code, without the blocking thread `Drop` uses).
    pub async fn cleanup(mut self) {
        self.dropped = true;
        drop_database(&self.admin_url, &self.name).await;
    }
}

impl Drop for PgDbGuard {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        self.dropped = true;
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop cannot await; run the DROP on a thread with its own runtime and wait for it, so
        // nothing is left behind even when the test panicked.
        let dropper =
            std::thread::spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(drop_database(&admin_url, &name)),
                    Err(e) => eprintln!("cannot drop test database {name}: {e}"),
                }
            });
        if dropper.join().is_err() {
            eprintln!("test database cleanup thread panicked");
        }
    }
}

/// A fresh, migrated PostgreSQL database with default options, or `None` (test skipped) when
/// `DATABASE_URL` is unset and `CI` is not `true`.
pub async fn postgres_fresh() -> Option<(Control, PgDbGuard)> {
    postgres_fresh_with(ControlOptions::default()).await
}

/// A fresh, migrated PostgreSQL database, or `None` (see [`postgres_fresh`]). Without an
/// `avatar_dir` in `opts`, avatars go to a temporary directory the guard deletes.
pub async fn postgres_fresh_with(mut opts: ControlOptions) -> Option<(Control, PgDbGuard)> {
    let admin_url = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
            assert!(!ci, "DATABASE_URL required when CI=true");
            println!("skipped: DATABASE_URL not set");
            return None;
        }
    };
    let suffix: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(16)
        .map(|b| char::from(b).to_ascii_lowercase())
        .collect();
    let name = format!("oc_test_{suffix}");
    sqlx::any::install_default_drivers();
    let mut admin = AnyConnection::connect(&admin_url)
        .await
        .expect("connect to DATABASE_URL");
    admin
        .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("create the test database");
    let _ = admin.close().await;

    let url = with_database(&admin_url, &name);
    // From here on, the guard drops the database even if the steps below panic.
    let avatars = match opts.avatar_dir {
        Some(_) => None,
        None => {
            let dir = tempfile::Builder::new()
                .prefix("oc-avatars-")
                .tempdir()
                .expect("create a temporary avatar directory");
            opts.avatar_dir = Some(dir.path().to_owned());
            Some(dir)
        }
    };
    let guard = PgDbGuard {
        admin_url,
        name,
        url,
        dropped: false,
        _avatars: avatars,
    };
    let control = Control::connect(guard.database_url(), opts)
        .await
        .expect("connect to the test database");
    control.migrate().await.expect("migrate PostgreSQL");
    Some((control, guard))
}

async fn drop_database(admin_url: &str, name: &str) {
    let result = async {
        let mut admin = AnyConnection::connect(admin_url).await?;
        admin
            .execute(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await?;
        admin.close().await
    }
    .await;
    if let Err(e) = result {
        eprintln!("cannot drop test database {name}: {e}");
    }
}

/// `url` with its database (path) replaced by `name`, keeping credentials and parameters.
fn with_database(url: &str, name: &str) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[authority_start..];
    let authority_end = rest
        .find(['/', '?'])
        .map_or(url.len(), |i| authority_start + i);
    let query = url[authority_end..]
        .find('?')
        .map_or("", |i| &url[authority_end + i..]);
    format!("{}/{name}{query}", &url[..authority_end])
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t"),
            "postgres://postgres@127.0.0.1:5432/t"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "t"),
            "postgres://u:p@h/t?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t"), "postgres://h/t");
        assert_eq!(with_database("postgres://h?x=1", "t"), "postgres://h/t?x=1");
    }
}
