//! Resource gauges on `/metrics`, read at scrape time: the tokio runtime (alive tasks, workers,
//! global queue), the database pool (open, idle, in use, max) and the live sessions (realtime
//! and signaling registries). Together with the process collector's memory, descriptors and
//! threads they are what the soak (`bench/soak`) samples to show nothing grows.

use std::fmt::Write;

use crate::state::AppState;

/// One gauge: name, help, value.
type Gauge = (&'static str, &'static str, u64);

/// The gauges of `state` and of the runtime this is called on.
pub fn gauges(state: &AppState) -> Vec<Gauge> {
    let pool = state.control.pool_stats();
    let mut gauges = vec![
        (
            "openchat_db_pool_connections",
            "Open database connections (idle or in use)",
            u64::from(pool.open),
        ),
        (
            "openchat_db_pool_idle_connections",
            "Open database connections not in use",
            u64::from(pool.idle),
        ),
        (
            "openchat_db_pool_in_use_connections",
            "Database connections checked out",
            u64::from(pool.in_use()),
        ),
        (
            "openchat_db_pool_max_connections",
            "Most connections the database pool opens",
            u64::from(pool.max),
        ),
        (
            "openchat_realtime_sessions",
            "Realtime WebSocket sessions registered in this process",
            count(state.control.realtime_sessions()),
        ),
        (
            "openchat_signaling_live_sessions",
            "Signaling sessions registered for access changes",
            count(state.live.len()),
        ),
    ];
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        let runtime = handle.metrics();
        gauges.extend([
            (
                "openchat_runtime_alive_tasks",
                "Tokio tasks alive in the main runtime",
                count(runtime.num_alive_tasks()),
            ),
            (
                "openchat_runtime_workers",
                "Worker threads of the main tokio runtime",
                count(runtime.num_workers()),
            ),
            (
                "openchat_runtime_global_queue_depth",
                "Tasks waiting in the main runtime's global queue",
                count(runtime.global_queue_depth()),
            ),
        ]);
    }
    gauges
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Appends `gauges` in the Prometheus text format.
pub fn render(text: &mut String, gauges: &[Gauge]) {
    for (name, help, value) in gauges {
        let _ = write!(
            text,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_help_type_and_value() {
        let mut text = String::new();
        render(&mut text, &[("openchat_x", "An x", 7)]);
        assert_eq!(
            text,
            "# HELP openchat_x An x\n# TYPE openchat_x gauge\nopenchat_x 7\n"
        );
    }
}
