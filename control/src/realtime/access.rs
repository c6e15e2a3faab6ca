//! Who may still read a channel: the devices of its group at an epoch never change, but a user
//! may leave or be removed from the channel's server, and a device may be revoked, long before a
//! membership commit takes the device out of the group. Those devices receive none of the
//! channel's events, live or replayed, from the moment the change commits.
//!
//! The excluded set of each channel is cached. Every change that can alter it (`member_added`,
//! `member_removed`, `device_revoked`) is an outbox event, and the dispatcher clears the cache
//! when it reaches one, before it resolves any later event: since events are read in commit
//! order, an event committed after a removal is never delivered by a cache filled before it. A
//! fill that raced with a clear is not kept (generation check).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use sqlx::Row;

use crate::epochs::DeviceRef;

#[derive(Debug, Default)]
struct State {
    generation: u64,
    excluded: HashMap<String, Arc<HashSet<DeviceRef>>>,
}

/// Devices excluded from each channel's events, by channel.
#[derive(Debug, Default)]
pub(crate) struct AccessCache {
    state: Mutex<State>,
}

impl AccessCache {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Devices that were ever in `channel_id`'s group but may no longer read it: their user is
    /// not a member of the channel's server now, or the device is revoked.
    pub(crate) async fn excluded(
        &self,
        pool: &sqlx::AnyPool,
        channel_id: &str,
    ) -> Result<Arc<HashSet<DeviceRef>>, sqlx::Error> {
        let generation = {
            let state = self.lock();
            if let Some(found) = state.excluded.get(channel_id) {
                return Ok(found.clone());
            }
            state.generation
        };
        let rows = sqlx::query(
            "SELECT DISTINCT s.user_id, s.device_id FROM channel_device_spans s \
             JOIN channels c ON c.id = s.channel_id \
             LEFT JOIN members m ON m.server_id = c.server_id AND m.user_id = s.user_id \
             LEFT JOIN devices d ON d.user_id = s.user_id AND d.device_id = s.device_id \
             WHERE s.channel_id = $1 AND (m.user_id IS NULL OR d.revoked_at IS NOT NULL)",
        )
        .bind(channel_id)
        .fetch_all(pool)
        .await?;
        let set = rows
            .iter()
            .map(|row| {
                Ok(DeviceRef {
                    user_id: row.try_get("user_id")?,
                    device_id: row.try_get("device_id")?,
                })
            })
            .collect::<Result<HashSet<_>, sqlx::Error>>()?;
        let set = Arc::new(set);
        let mut state = self.lock();
        if state.generation == generation {
            state.excluded.insert(channel_id.to_owned(), set.clone());
        }
        Ok(set)
    }

    /// Forgets every cached set (a membership or device changed).
    pub(crate) fn invalidate(&self) {
        let mut state = self.lock();
        state.generation += 1;
        state.excluded.clear();
    }
}

/// A change that takes away a device's or a user's right to act. Every node's dispatcher
/// publishes it when it reaches the event in the outbox (see [`Control::access_changes`]);
/// signaling ends the live sessions it names.
///
/// [`Control::access_changes`]: crate::Control::access_changes
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessChange {
    /// The device was revoked: every session of it ends.
    DeviceRevoked {
        /// Its user.
        user_id: String,
        /// The device.
        device_id: String,
    },
    /// The user is no longer a member of the server (left or removed): their sessions in the
    /// server's rooms end.
    MemberRemoved {
        /// The server.
        server_id: String,
        /// The former member.
        user_id: String,
    },
    /// A moderation action concerns the user in the server: a ban, kick or timeout ends their
    /// sessions in the server's rooms; a mute or unmute changes whether their media is
    /// forwarded there.
    Moderation {
        /// The server.
        server_id: String,
        /// The target.
        user_id: String,
        /// What was done.
        action: crate::ActionKind,
        /// When its effect ends, unix milliseconds (`None`: not on its own).
        until: Option<i64>,
    },
}

/// Why the server ends a realtime session (sent as an `error` frame before it closes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SessionEnd {
    /// Stable code.
    pub code: &'static str,
    /// For people.
    pub message: &'static str,
}

impl SessionEnd {
    /// The session's device was revoked.
    pub(crate) const DEVICE_REVOKED: SessionEnd = SessionEnd {
        code: "device_revoked",
        message: "this device was revoked",
    };
}
