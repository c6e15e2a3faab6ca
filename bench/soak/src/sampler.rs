//! Every `period`: the server's `/proc` reading, its resource gauges from `/metrics`, the
//! PostgreSQL backends of its database, and the driver's own progress, as one [`Sample`].

use crate::api::{Api, metric};
use crate::procfs;
use std::time::{Duration, Instant};

/// One row of the CSV. Missing values are `NaN` (written empty).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    /// Seconds since the load started.
    pub t_s: f64,
    /// Resident memory, MiB.
    pub rss_mib: f64,
    /// Anonymous resident memory, MiB.
    pub rss_anon_mib: f64,
    /// Open file descriptors.
    pub fds: f64,
    /// Threads.
    pub threads: f64,
    /// Tokio tasks alive (`openchat_runtime_alive_tasks`).
    pub tasks: f64,
    /// Database pool: open connections.
    pub pool_open: f64,
    /// Database pool: connections in use.
    pub pool_in_use: f64,
    /// PostgreSQL backends of the run's database (`pg_stat_activity`; empty on SQLite).
    pub pg_backends: f64,
    /// Established TCP connections to the HTTP port.
    pub http_conns: f64,
    /// TCP connections to PostgreSQL.
    pub db_conns: f64,
    /// TCP sockets in CLOSE_WAIT.
    pub close_wait: f64,
    /// UDP sockets.
    pub udp_sockets: f64,
    /// Realtime sessions (`openchat_realtime_sessions`).
    pub realtime_sessions: f64,
    /// Signaling sessions (`openchat_signaling_sessions`).
    pub signaling_sessions: f64,
    /// sfu peers (`openchat_sfu_peers`).
    pub sfu_peers: f64,
    /// sfu rooms (`openchat_sfu_rooms`).
    pub sfu_rooms: f64,
    /// Server CPU time, seconds (cumulative).
    pub cpu_s: f64,
    /// Joiners in a room or joining (driver side).
    pub joiners_live: f64,
    /// Joins started so far.
    pub joins: f64,
    /// Envelopes acknowledged so far.
    pub acked: f64,
    /// Realtime sessions opened so far (driver side).
    pub rt_sessions_opened: f64,
}

/// Column names, in CSV order.
pub const COLUMNS: [&str; 22] = [
    "t_s",
    "rss_mib",
    "rss_anon_mib",
    "fds",
    "threads",
    "tasks",
    "pool_open",
    "pool_in_use",
    "pg_backends",
    "http_conns",
    "db_conns",
    "close_wait",
    "udp_sockets",
    "realtime_sessions",
    "signaling_sessions",
    "sfu_peers",
    "sfu_rooms",
    "cpu_s",
    "joiners_live",
    "joins",
    "acked",
    "rt_sessions_opened",
];

impl Sample {
    /// Values in [`COLUMNS`] order.
    pub fn values(&self) -> [f64; 22] {
        [
            self.t_s,
            self.rss_mib,
            self.rss_anon_mib,
            self.fds,
            self.threads,
            self.tasks,
            self.pool_open,
            self.pool_in_use,
            self.pg_backends,
            self.http_conns,
            self.db_conns,
            self.close_wait,
            self.udp_sockets,
            self.realtime_sessions,
            self.signaling_sessions,
            self.sfu_peers,
            self.sfu_rooms,
            self.cpu_s,
            self.joiners_live,
            self.joins,
            self.acked,
            self.rt_sessions_opened,
        ]
    }

    /// A sample from values in [`COLUMNS`] order (`None` if there are too few).
    pub fn from_values(v: &[f64]) -> Option<Sample> {
        let v: &[f64; 22] = v.get(..22)?.try_into().ok()?;
        Some(Sample {
            t_s: v[0],
            rss_mib: v[1],
            rss_anon_mib: v[2],
            fds: v[3],
            threads: v[4],
            tasks: v[5],
            pool_open: v[6],
            pool_in_use: v[7],
            pg_backends: v[8],
            http_conns: v[9],
            db_conns: v[10],
            close_wait: v[11],
            udp_sockets: v[12],
            realtime_sessions: v[13],
            signaling_sessions: v[14],
            sfu_peers: v[15],
            sfu_rooms: v[16],
            cpu_s: v[17],
            joiners_live: v[18],
            joins: v[19],
            acked: v[20],
            rt_sessions_opened: v[21],
        })
    }

    /// The value of column `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        let i = COLUMNS.iter().position(|c| *c == name)?;
        Some(self.values()[i])
    }

    /// A CSV line (no newline); NaN is empty.
    pub fn csv(&self) -> String {
        self.values()
            .iter()
            .map(|v| {
                if v.is_nan() {
                    String::new()
                } else {
                    format!("{v:.3}")
                }
            })
            .map(|s| s.trim_end_matches('0').trim_end_matches('.').to_owned())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// What the sampler reads besides the server.
pub struct Sources<'a> {
    /// The server's API (for `/metrics`).
    pub api: &'a Api,
    /// Server process id.
    pub pid: u32,
    /// Its HTTP port.
    pub http_port: u16,
    /// PostgreSQL: the run's database and an admin connection.
    pub postgres: Option<(&'a crate::server::FreshDatabase, &'a mut sqlx::PgConnection)>,
}

/// The driver's counters at sampling time.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    /// Joiners live.
    pub joiners_live: u64,
    /// Joins started.
    pub joins: u64,
    /// Envelopes acknowledged.
    pub acked: u64,
    /// Realtime sessions opened.
    pub rt_sessions_opened: u64,
}

/// Takes one sample at `t` (since `start`). `None` if the server process is gone.
pub async fn sample(
    sources: &mut Sources<'_>,
    start: Instant,
    progress: Progress,
) -> Option<Sample> {
    let proc = procfs::read(sources.pid, sources.http_port)?;
    let metrics = match tokio::time::timeout(Duration::from_secs(5), sources.api.metrics()).await {
        Ok(Ok(text)) => text,
        _ => String::new(),
    };
    let gauge = |name: &str| metric(&metrics, name).unwrap_or(f64::NAN);
    let pg_backends = match sources.postgres.as_mut() {
        Some((db, admin)) => db.backends(admin).await.map_or(f64::NAN, |n| n as f64),
        None => f64::NAN,
    };
    Some(Sample {
        t_s: start.elapsed().as_secs_f64(),
        rss_mib: proc.rss_kib as f64 / 1024.0,
        rss_anon_mib: proc.rss_anon_kib as f64 / 1024.0,
        fds: proc.fds as f64,
        threads: proc.threads as f64,
        tasks: gauge("openchat_runtime_alive_tasks"),
        pool_open: gauge("openchat_db_pool_connections"),
        pool_in_use: gauge("openchat_db_pool_in_use_connections"),
        pg_backends,
        http_conns: proc.sockets.http_established as f64,
        db_conns: proc.sockets.db_established as f64,
        close_wait: proc.sockets.close_wait as f64,
        udp_sockets: proc.sockets.udp as f64,
        realtime_sessions: gauge("openchat_realtime_sessions"),
        signaling_sessions: gauge("openchat_signaling_sessions"),
        sfu_peers: gauge("openchat_sfu_peers"),
        sfu_rooms: gauge("openchat_sfu_rooms"),
        cpu_s: proc.cpu_secs,
        joiners_live: progress.joiners_live as f64,
        joins: progress.joins as f64,
        acked: progress.acked as f64,
        rt_sessions_opened: progress.rt_sessions_opened as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_match_the_header() {
        let s = Sample {
            t_s: 10.0,
            rss_mib: 41.25,
            pg_backends: f64::NAN,
            ..Sample::default()
        };
        let line = s.csv();
        assert_eq!(line.split(',').count(), COLUMNS.len());
        assert!(line.starts_with("10,41.25,0,"), "{line}");
        assert_eq!(line.split(',').nth(8), Some(""), "NaN is empty");
        assert_eq!(s.get("rss_mib"), Some(41.25));
        let back = Sample::from_values(&s.values()).expect("22 values");
        assert_eq!(back.csv(), line, "values round-trip");
        assert!(Sample::from_values(&[1.0; 21]).is_none());
        assert_eq!(s.get("nope"), None);
    }
}
