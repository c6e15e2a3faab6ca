//! Who receives an outbox event. Membership at a past or current epoch never changes, so the
//! member set per (channel, epoch) is cached for the life of the process.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use super::access::AccessCache;
use super::event::StoredEvent;
use crate::epochs::{DeviceRef, members_at};

/// Cached member sets are dropped wholesale past this many entries.
const CACHE_LIMIT: usize = 4096;

/// The recipients of one event.
#[derive(Clone, Debug)]
pub(crate) enum Targets {
    /// These devices.
    Devices(Arc<HashSet<DeviceRef>>),
    /// Every device of these users.
    Users(Arc<HashSet<String>>),
}

impl Targets {
    /// Whether `device` receives the event.
    pub(crate) fn contains(&self, device: &DeviceRef) -> bool {
        match self {
            Targets::Devices(devices) => devices.contains(device),
            Targets::Users(users) => users.contains(&device.user_id),
        }
    }
}

/// Member devices of (channel, epoch).
type MemberSets = HashMap<(String, i64), Arc<HashSet<DeviceRef>>>;

/// Member sets by (channel, epoch), and who may no longer read each channel.
#[derive(Debug, Default)]
pub(crate) struct AudienceCache {
    members: Mutex<MemberSets>,
    /// Devices excluded from channel events (left the server, revoked); cleared by the
    /// dispatcher when it reaches an event that changes them.
    pub(crate) access: AccessCache,
}

impl AudienceCache {
    async fn members(
        &self,
        pool: &sqlx::AnyPool,
        channel_id: &str,
        epoch: i64,
    ) -> Result<Arc<HashSet<DeviceRef>>, sqlx::Error> {
        let key = (channel_id.to_owned(), epoch);
        if let Some(found) = self.lock().get(&key) {
            return Ok(found.clone());
        }
        let set: HashSet<DeviceRef> = members_at(pool, channel_id, epoch)
            .await?
            .into_iter()
            .map(|(device, _)| device)
            .collect();
        let set = Arc::new(set);
        let mut cache = self.lock();
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key, set.clone());
        Ok(set)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemberSets> {
        self.members
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Resolves the recipients of `event`. Unknown audiences resolve to nobody.
    pub(crate) async fn resolve(
        &self,
        pool: &sqlx::AnyPool,
        event: &StoredEvent,
    ) -> Result<Targets, sqlx::Error> {
        let none = || Targets::Devices(Arc::new(HashSet::new()));
        let (channel, epoch) = (event.channel_id.as_deref(), event.epoch);
        Ok(match (event.audience.as_str(), channel, epoch) {
            ("channel_epoch", Some(channel), Some(epoch)) => {
                let members = self.members(pool, channel, epoch).await?;
                self.readable(pool, channel, members).await?
            }
            ("channel_commit", Some(channel), Some(epoch)) => {
                let after = self.members(pool, channel, epoch).await?;
                let before = self.members(pool, channel, epoch - 1).await?;
                let members = Arc::new(after.union(&before).cloned().collect());
                self.readable(pool, channel, members).await?
            }
            ("device", ..) => match (&event.user_id, &event.device_id) {
                (Some(user), Some(device)) => {
                    Targets::Devices(Arc::new(HashSet::from([DeviceRef::new(user, device)])))
                }
                _ => none(),
            },
            ("user_peers", ..) => match &event.user_id {
                Some(user) => Targets::Users(Arc::new(peers_of(pool, user).await?)),
                None => none(),
            },
            ("user", ..) => match &event.user_id {
                Some(user) => Targets::Users(Arc::new(HashSet::from([user.clone()]))),
                None => none(),
            },
            _ => none(),
        })
    }
}

impl AudienceCache {
    /// `members` without the devices that may no longer read `channel_id`.
    async fn readable(
        &self,
        pool: &sqlx::AnyPool,
        channel_id: &str,
        members: Arc<HashSet<DeviceRef>>,
    ) -> Result<Targets, sqlx::Error> {
        let excluded = self.access.excluded(pool, channel_id).await?;
        if excluded.is_empty() || members.is_disjoint(&excluded) {
            return Ok(Targets::Devices(members));
        }
        Ok(Targets::Devices(Arc::new(
            members.difference(&excluded).cloned().collect(),
        )))
    }
}

/// Users sharing at least one server with `user_id` (including themselves).
async fn peers_of(pool: &sqlx::AnyPool, user_id: &str) -> Result<HashSet<String>, sqlx::Error> {
    let peers: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT m2.user_id FROM members m1 JOIN members m2 ON m2.server_id = m1.server_id \
         WHERE m1.user_id = $1",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    let mut peers: HashSet<String> = peers.into_iter().collect();
    peers.insert(user_id.to_owned());
    Ok(peers)
}
