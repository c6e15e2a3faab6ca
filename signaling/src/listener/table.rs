//! Open connections per client address and in total: admission at accept time.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::stats::ConnStats;

/// Why a connection was refused at accept time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The client address already has `http.max_connections_per_ip` connections.
    PerIp,
    /// The process already has `http.max_connections` connections.
    Total,
}

impl Refusal {
    /// Both reasons, in label order.
    pub const ALL: [Refusal; 2] = [Refusal::PerIp, Refusal::Total];

    /// The `/metrics` label and the `details.limit` of the 503 body.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::PerIp => "per_ip_limit",
            Refusal::Total => "total_limit",
        }
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_key: HashMap<IpAddr, usize>,
}

/// Counts open connections; hands out a [`ConnGuard`] per admitted connection.
pub struct ConnTable {
    max_total: usize,
    /// 0: no per-address limit.
    max_per_ip: usize,
    counts: Mutex<Counts>,
    stats: Arc<ConnStats>,
    /// Woken whenever the last connection closes.
    empty: Notify,
}

impl ConnTable {
    /// A table admitting `max_total` connections, `max_per_ip` per address (0: unlimited).
    pub fn new(max_total: usize, max_per_ip: usize, stats: Arc<ConnStats>) -> ConnTable {
        ConnTable {
            max_total,
            max_per_ip,
            counts: Mutex::default(),
            stats,
            empty: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a connection from `ip`, or says which limit refuses it.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnGuard, Refusal> {
        let key = limit_key(ip);
        let mut counts = self.lock();
        if counts.total >= self.max_total {
            return Err(Refusal::Total);
        }
        let of_key = counts.per_key.entry(key).or_insert(0);
        if self.max_per_ip > 0 && *of_key >= self.max_per_ip {
            return Err(Refusal::PerIp);
        }
        *of_key += 1;
        counts.total += 1;
        drop(counts);
        self.stats.opened();
        Ok(ConnGuard {
            table: self.clone(),
            key,
        })
    }

    /// Open connections now.
    pub fn open(&self) -> usize {
        self.lock().total
    }

    /// Resolves once no connection is open.
    pub async fn emptied(&self) {
        loop {
            let notified = self.empty.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.open() == 0 {
                return;
            }
            notified.await;
        }
    }

    fn release(&self, key: IpAddr) {
        let mut counts = self.lock();
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_key.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                counts.per_key.remove(&key);
            }
        }
        let empty = counts.total == 0;
        drop(counts);
        self.stats.closed();
        if empty {
            self.empty.notify_waiters();
        }
    }
}

/// Keeps one connection counted until dropped (with the socket, WebSockets included).
pub struct ConnGuard {
    table: Arc<ConnTable>,
    key: IpAddr,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.table.release(self.key);
    }
}

/// The key a client address is limited under: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its
/// /64, which one subscriber usually holds whole.
fn limit_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(total: usize, per_ip: usize) -> Arc<ConnTable> {
        Arc::new(ConnTable::new(total, per_ip, Arc::default()))
    }

    #[test]
    fn per_address_and_total_limits() {
        let t = table(3, 2);
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        let a1 = t.admit(a).expect("first");
        let _a2 = t.admit(a).expect("second");
        assert_eq!(t.admit(a).err(), Some(Refusal::PerIp));
        let _b1 = t.admit(b).expect("other address");
        assert_eq!(t.admit(b).err(), Some(Refusal::Total));
        drop(a1);
        assert_eq!(t.open(), 2);
        t.admit(a).expect("room again");
    }

    #[test]
    fn zero_per_ip_means_unlimited() {
        let t = table(5, 0);
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let guards: Vec<_> = (0..5).map(|_| t.admit(a).expect("admitted")).collect();
        assert_eq!(t.admit(a).err(), Some(Refusal::Total));
        drop(guards);
        assert_eq!(t.open(), 0);
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let t = table(10, 1);
        let _x = t.admit("2001:db8::1".parse().expect("ip")).expect("first");
        assert_eq!(
            t.admit("2001:db8::ffff:2".parse().expect("ip")).err(),
            Some(Refusal::PerIp),
            "same /64"
        );
        t.admit("2001:db8:0:1::1".parse().expect("ip"))
            .expect("another /64");
        let _v4 = t.admit("192.0.2.7".parse().expect("ip")).expect("v4");
        assert_eq!(
            t.admit("::ffff:192.0.2.7".parse().expect("ip")).err(),
            Some(Refusal::PerIp)
        );
    }
}
