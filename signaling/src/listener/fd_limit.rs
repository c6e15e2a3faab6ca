//! The open-file limit, which bounds how many connections the process can hold.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// Descriptors kept for everything but client connections: the database pool, media sockets,
/// log and data files, the runtime's own.
pub const RESERVED_FDS: usize = 256;
/// Ceiling of the automatic connection limit.
pub const AUTO_MAX_CONNECTIONS: usize = 16_384;

/// The soft open-file limit, if the system tells.
pub fn open_file_limit() -> Option<usize> {
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    Some(usize::try_from(soft).unwrap_or(usize::MAX))
}

/// Raises the soft open-file limit to the hard limit (at most 2^20), as a server that holds
/// many connections should; returns the soft limit in force afterwards.
pub fn raise_open_file_limit() -> Option<usize> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    let target = hard.min(1 << 20);
    if soft < target && setrlimit(Resource::RLIMIT_NOFILE, target, hard).is_err() {
        tracing::warn!(soft, hard, "cannot raise the open-file limit");
    }
    open_file_limit()
}

/// The total connection limit for `configured` (0: automatic, from `fd_limit`).
pub fn max_connections(configured: usize, fd_limit: Option<usize>) -> usize {
    let room = fd_limit.map(|l| l.saturating_sub(RESERVED_FDS));
    match (configured, room) {
        (0, Some(room)) => room.clamp(16, AUTO_MAX_CONNECTIONS),
        (0, None) => AUTO_MAX_CONNECTIONS,
        (n, Some(room)) if n > room => {
            tracing::warn!(
                configured = n,
                open_file_limit = fd_limit,
                "http.max_connections is above what the open-file limit allows: accepts may fail"
            );
            n
        }
        (n, _) => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_limit_follows_the_open_file_limit() {
        assert_eq!(max_connections(0, Some(1024)), 768);
        assert_eq!(max_connections(0, Some(1 << 20)), AUTO_MAX_CONNECTIONS);
        assert_eq!(max_connections(0, Some(100)), 16);
        assert_eq!(max_connections(0, None), AUTO_MAX_CONNECTIONS);
        assert_eq!(max_connections(50, Some(1024)), 50);
        assert_eq!(max_connections(5000, Some(1024)), 5000);
    }
}
