//! What `/proc` says about the server process: resident memory, threads, descriptors, CPU
//! time, and its sockets by kind and state (matched by inode against the namespace's
//! `/proc/<pid>/net/{tcp,tcp6,udp,udp6}` tables).

use std::collections::HashSet;
use std::path::PathBuf;

/// One reading.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProcReading {
    /// Resident set size, KiB.
    pub rss_kib: u64,
    /// Anonymous resident memory (heap, stacks), KiB.
    pub rss_anon_kib: u64,
    /// Threads.
    pub threads: u64,
    /// Open file descriptors.
    pub fds: u64,
    /// User + system CPU time, seconds.
    pub cpu_secs: f64,
    /// Sockets of the process.
    pub sockets: Sockets,
}

/// The process's sockets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sockets {
    /// Established TCP connections to the HTTP port (API, signaling and realtime WebSockets).
    pub http_established: u64,
    /// Established TCP connections to PostgreSQL (remote port 5432).
    pub db_established: u64,
    /// TCP sockets in CLOSE_WAIT (the peer closed, the process has not: a leak if it grows).
    pub close_wait: u64,
    /// Other TCP sockets that are neither listening nor counted above.
    pub tcp_other: u64,
    /// UDP sockets (one per media worker).
    pub udp: u64,
}

/// Reads `/proc/<pid>`; `None` if the process is gone.
pub fn read(pid: u32, http_port: u16) -> Option<ProcReading> {
    let dir = PathBuf::from(format!("/proc/{pid}"));
    let status = std::fs::read_to_string(dir.join("status")).ok()?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    let mut inodes = HashSet::new();
    let mut fds = 0;
    for entry in std::fs::read_dir(dir.join("fd")).ok()?.flatten() {
        fds += 1;
        if let Ok(target) = std::fs::read_link(entry.path())
            && let Some(inode) = socket_inode(&target.to_string_lossy())
        {
            inodes.insert(inode);
        }
    }
    let table =
        |name: &str| std::fs::read_to_string(dir.join("net").join(name)).unwrap_or_default();
    let mut sockets = Sockets::default();
    for name in ["tcp", "tcp6"] {
        classify_tcp(&table(name), &inodes, http_port, &mut sockets);
    }
    for name in ["udp", "udp6"] {
        sockets.udp += count_udp(&table(name), &inodes);
    }
    Some(ProcReading {
        rss_kib: field("VmRSS:"),
        rss_anon_kib: field("RssAnon:"),
        threads: field("Threads:"),
        fds,
        cpu_secs: cpu_secs(&stat).unwrap_or(0.0),
        sockets,
    })
}

/// The inode of a `socket:[12345]` link target.
fn socket_inode(target: &str) -> Option<u64> {
    target
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// utime + stime of a `/proc/<pid>/stat` line, in seconds (USER_HZ = 100 on Linux).
fn cpu_secs(stat: &str) -> Option<f64> {
    // The command name may contain spaces: fields are counted after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// A port of an `ADDR:PORT` hex field.
fn port(field: &str) -> Option<u16> {
    u16::from_str_radix(field.rsplit(':').next()?, 16).ok()
}

fn classify_tcp(table: &str, inodes: &HashSet<u64>, http_port: u16, out: &mut Sockets) {
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(remote), Some(state), Some(inode)) =
            (f.get(1), f.get(2), f.get(3), f.get(9))
        else {
            continue;
        };
        if !inode.parse().is_ok_and(|i: u64| inodes.contains(&i)) {
            continue;
        }
        match *state {
            "0A" => {} // LISTEN
            "08" => out.close_wait += 1,
            "01" if port(local) == Some(http_port) => out.http_established += 1,
            "01" if port(remote) == Some(5432) => out.db_established += 1,
            _ => out.tcp_other += 1,
        }
    }
}

fn count_udp(table: &str, inodes: &HashSet<u64>) -> u64 {
    table
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().nth(9)?.parse::<u64>().ok())
        .filter(|inode| inodes.contains(inode))
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 100 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 101 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D432 0100007F:1538 01 00000000:00000000 00:00000000 00000000     0        0 102 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:1F90 0100007F:D433 08 00000000:00000000 00:00000000 00000000     0        0 103 1 0000000000000000 20 4 30 10 -1
   4: 0100007F:1F90 0100007F:D434 01 00000000:00000000 00:00000000 00000000     0        0 999 1 0000000000000000 20 4 30 10 -1
";

    #[test]
    fn sockets_are_classified_by_port_and_state() {
        let inodes: HashSet<u64> = [100, 101, 102, 103].into();
        let mut s = Sockets::default();
        classify_tcp(TCP, &inodes, 8080, &mut s);
        assert_eq!(
            s,
            Sockets {
                http_established: 1,
                db_established: 1,
                close_wait: 1,
                tcp_other: 0,
                udp: 0,
            },
            "inode 999 belongs to another process"
        );
    }

    #[test]
    fn stat_cpu_and_socket_links() {
        let stat = "42 (open chatd) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1 2 3";
        assert_eq!(cpu_secs(stat), Some(3.0));
        assert_eq!(socket_inode("socket:[12345]"), Some(12345));
        assert_eq!(socket_inode("/dev/null"), None);
    }

    #[test]
    fn reads_this_process() {
        let me = read(std::process::id(), 1).expect("own /proc");
        assert!(me.rss_kib > 0 && me.threads >= 1 && me.fds >= 3, "{me:?}");
    }
}
