//! Gauges of the control plane's resources, for `/metrics`: the database pool and this
//! process's realtime sessions. A soak (`bench/soak`) watches them stay flat.

use crate::Control;

/// The database pool at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections, idle or in use.
    pub open: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// Most connections the pool opens.
    pub max: u32,
}

impl PoolStats {
    /// Connections checked out right now.
    pub fn in_use(&self) -> u32 {
        self.open.saturating_sub(self.idle)
    }
}

impl Control {
    /// The database pool now (cheap: no query).
    pub fn pool_stats(&self) -> PoolStats {
        PoolStats {
            open: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }
    }

    /// Realtime WebSocket sessions registered in this process.
    pub fn realtime_sessions(&self) -> usize {
        self.hub.session_count()
    }
}
