//! A migrated database with one channel whose group holds the sender and N subscriber devices,
//! and control's router served on 127.0.0.1.

use std::any::Any;
use std::net::SocketAddr;

use anyhow::Context;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use control::{
    Caller, ChannelKind, CommitRequest, Control, ControlOptions, DeviceRef, NewChannel, NewServer,
    SqliteSynchronous,
};

/// The channel every envelope goes to.
pub const CHANNEL: &str = "tc_bench";
/// The sending user (device `d0`).
pub const SENDER: &str = "owner";

/// Database under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    /// A temporary SQLite file (WAL).
    Sqlite,
    /// A temporary database on `DATABASE_URL`.
    Postgres,
}

/// The prepared server.
pub struct Fixture {
    /// Label of the database in result rows (`sqlite-full`, `sqlite-normal`, `postgres`).
    pub label: String,
    pub control: Control,
    pub addr: SocketAddr,
    pub subscribers: usize,
    server: tokio::task::JoinHandle<()>,
    guard: Box<dyn Any + Send>,
}

/// Stands in for signaling's auth middleware: the caller comes from `?user=&device=`.
async fn query_auth(mut request: Request, next: Next) -> Response {
    let query = request.uri().query().unwrap_or("").to_owned();
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
            .map(str::to_owned)
    };
    let user_id = param("user").and_then(|u| u.parse().ok());
    let device_id = param("device").and_then(|d| d.parse().ok());
    if let (Some(user_id), Some(device_id)) = (user_id, device_id) {
        request
            .extensions_mut()
            .insert(Caller { user_id, device_id });
    }
    next.run(request).await
}

impl Fixture {
    /// Creates the database, the server, channel, members, devices and the group (epoch 1).
    pub async fn new(
        db: Db,
        subscribers: usize,
        sqlite_synchronous: SqliteSynchronous,
    ) -> anyhow::Result<Fixture> {
        let (control, guard): (Control, Box<dyn Any + Send>) = match db {
            Db::Sqlite => {
                let options = ControlOptions {
                    sqlite_synchronous,
                    ..ControlOptions::default()
                };
                let (control, guard) = control::testing::sqlite_temp_with(options).await;
                (control, Box::new(guard))
            }
            Db::Postgres => {
                let (control, guard) = control::testing::postgres_fresh()
                    .await
                    .context("PostgreSQL needs DATABASE_URL")?;
                (control, Box::new(guard))
            }
        };
        let server = NewServer {
            id: Some("srv_bench".into()),
            name: "Bench".into(),
        };
        control.create_server(SENDER, server).await?;
        let channel = NewChannel {
            id: Some(CHANNEL.into()),
            name: "bench".into(),
            kind: ChannelKind::Text,
        };
        control.create_channel(SENDER, "srv_bench", channel).await?;
        control.testing_insert_device(SENDER, "d0").await?;
        let mut added = vec![DeviceRef::new(SENDER, "d0")];
        for i in 0..subscribers {
            let user = subscriber(i);
            control.add_member(SENDER, "srv_bench", &user, None).await?;
            control.testing_insert_device(&user, "d0").await?;
            added.push(DeviceRef::new(&user, "d0"));
        }
        let request = CommitRequest {
            epoch: 0,
            commit: "Ym9vdHN0cmFw".into(),
            added,
            removed: Vec::new(),
            welcomes: Vec::new(),
            proposal_ids: Vec::new(),
        };
        control
            .commit_membership(&DeviceRef::new(SENDER, "d0"), CHANNEL, request)
            .await?;
        control.start_background();

        let app = control
            .router()
            .layer(axum::middleware::from_fn(query_auth));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("server stopped: {e}");
            }
        });
        let label = match db {
            Db::Sqlite => format!(
                "sqlite-{}",
                format!("{sqlite_synchronous:?}").to_lowercase()
            ),
            Db::Postgres => "postgres".to_owned(),
        };
        Ok(Fixture {
            label,
            control,
            addr,
            subscribers,
            server,
            guard,
        })
    }

    /// Stops the server and drops the database.
    pub async fn close(self) {
        self.server.abort();
        self.control.close().await;
        drop(self.guard);
    }
}

/// User id of subscriber `i`.
pub fn subscriber(i: usize) -> String {
    format!("u{i}")
}
