//! `control::testing` itself: temporary databases are created fresh and leave nothing behind.

use control::testing::{postgres_fresh, sqlite_temp};
use sqlx::{AnyConnection, Connection};

async fn pg_database_exists(name: &str) -> bool {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let mut admin = AnyConnection::connect(&url).await.expect("connect");
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut admin)
        .await
        .expect("query");
    found.is_some()
}

#[tokio::test]
async fn sqlite_temp_dir_is_removed_on_drop() {
    let (ctl, guard) = sqlite_temp().await;
    ctl.ping().await.expect("ping");
    let dir = guard.path().to_owned();
    assert!(dir.join("control.db").is_file());
    drop(ctl);
    drop(guard);
    assert!(!dir.exists());
}

#[tokio::test]
async fn postgres_databases_are_fresh_and_dropped() {
    let Some((a, guard_a)) = postgres_fresh().await else {
        return;
    };
    let Some((b, guard_b)) = postgres_fresh().await else {
        return;
    };
    assert_ne!(guard_a.name(), guard_b.name());
    a.seed_dev().await.expect("seed a");
    assert!(b.servers_of("dev-owner").await.expect("list").is_empty());

    // Explicit async cleanup.
    let name_a = guard_a.name().to_owned();
    assert!(pg_database_exists(&name_a).await);
    guard_a.cleanup().await;
    assert!(!pg_database_exists(&name_a).await);

    // Drop, with the pool still open (WITH (FORCE) ends its connections).
    let name_b = guard_b.name().to_owned();
    drop(guard_b);
    assert!(!pg_database_exists(&name_b).await);
    drop((a, b));
}

#[tokio::test]
async fn postgres_database_is_dropped_when_a_test_panics() {
    if std::env::var("DATABASE_URL").is_err() {
        println!("skipped: DATABASE_URL not set");
        return;
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let (ctl, guard) = postgres_fresh().await.expect("database");
        tx.send(guard.name().to_owned()).expect("send");
        ctl.seed_dev().await.expect("seed");
        panic!("test failure");
    });
    assert!(task.await.is_err(), "the task panicked");
    let name = rx.await.expect("name");
    assert!(!pg_database_exists(&name).await);
}
