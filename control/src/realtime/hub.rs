//! The per-process registry of realtime sessions, and the dispatcher's wake-up signal.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, broadcast, mpsc, oneshot};

use super::SESSION_QUEUE;
use super::access::{AccessChange, SessionEnd};
use super::audience::{AudienceCache, Targets};
use super::event::Event;
use crate::epochs::DeviceRef;

type Sender = mpsc::Sender<Arc<Event>>;

/// One registered session: its event queue and how to tell it why the server ends it.
struct Entry {
    id: u64,
    events: Sender,
    end: Option<oneshot::Sender<SessionEnd>>,
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    devices: HashMap<DeviceRef, Vec<Entry>>,
    /// Open sessions per user (presence).
    users: HashMap<String, usize>,
}

/// A random id for this process's hub, fresh per `Control::connect`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Origin(pub(crate) String);

impl Default for Origin {
    fn default() -> Self {
        Origin(format!("{:032x}", rand::random::<u128>()))
    }
}

/// Sessions of this process, the audience cache, and the dispatcher's state.
#[derive(Default)]
pub(crate) struct Hub {
    registry: Mutex<Registry>,
    wake: Notify,
    /// This process's id on the live-event channel (it skips its own notifications).
    pub(crate) origin: Origin,
    /// The realtime tasks of this process.
    pub(crate) background: super::background::Background,
    pub(crate) audience: AudienceCache,
    /// SQLite only: serializes this process's write transactions (see `Control::begin_write`).
    pub(crate) write_gate: tokio::sync::Mutex<()>,
    /// Set once the dispatcher has read its starting position.
    dispatching: AtomicBool,
    dispatching_changed: Notify,
    /// Access changes the dispatcher reached, for signaling's live sessions.
    pub(crate) access_changes: AccessChanges,
}

/// The broadcast of [`AccessChange`]s (a lagging receiver must re-check everything it holds).
pub(crate) struct AccessChanges(pub(crate) broadcast::Sender<AccessChange>);

impl Default for AccessChanges {
    fn default() -> Self {
        AccessChanges(broadcast::channel(1024).0)
    }
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("sessions", &self.lock().devices.len())
            .field("started", &self.background.started())
            .finish()
    }
}

/// A registered session: receives the events addressed to its device. Unregisters on drop.
pub(crate) struct Subscription {
    hub: Arc<Hub>,
    device: DeviceRef,
    id: u64,
    closed: bool,
    /// Events for this device, in outbox order. `None` once the dispatcher dropped the
    /// session: for lagging, or to end it (then [`Subscription::ended`] says why).
    pub(crate) rx: mpsc::Receiver<Arc<Event>>,
    ended: oneshot::Receiver<SessionEnd>,
}

impl Subscription {
    /// Unregisters; returns whether this was the user's last session in this process.
    pub(crate) fn close(&mut self) -> bool {
        if self.closed {
            return false;
        }
        self.closed = true;
        let mut registry = self.hub.lock();
        if let Some(senders) = registry.devices.get_mut(&self.device) {
            senders.retain(|entry| entry.id != self.id);
            if senders.is_empty() {
                registry.devices.remove(&self.device);
            }
        }
        let user = &self.device.user_id;
        let count = registry.users.get(user).copied().unwrap_or(1);
        if count <= 1 {
            registry.users.remove(user);
            true
        } else {
            registry.users.insert(user.clone(), count - 1);
            false
        }
    }
}

impl Subscription {
    /// Why the server ended this session, once [`Subscription::rx`] has ended; `None` for a
    /// session dropped for lagging.
    pub(crate) fn ended(&mut self) -> Option<SessionEnd> {
        self.ended.try_recv().ok()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.close();
    }
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Wakes the dispatcher (after a local commit, or a `NOTIFY` from another process).
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Waits for [`Hub::wake`].
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Called by the dispatcher once it knows its starting position: from now on every event
    /// committed after that position reaches the registered sessions.
    pub(crate) fn set_dispatching(&self) {
        self.dispatching.store(true, Ordering::Release);
        self.dispatching_changed.notify_waiters();
    }

    /// Waits until [`Hub::set_dispatching`]. A session registers, then waits for this, then reads
    /// its own starting position: events between the two positions are never missed.
    pub(crate) async fn dispatching(&self) {
        loop {
            let changed = self.dispatching_changed.notified();
            if self.dispatching.load(Ordering::Acquire) {
                return;
            }
            changed.await;
        }
    }

    /// Registers a session of `device`; the flag says whether it is the user's first session
    /// in this process.
    pub(crate) fn subscribe(self: &Arc<Self>, device: DeviceRef) -> (Subscription, bool) {
        let (tx, rx) = mpsc::channel(SESSION_QUEUE);
        let (end_tx, ended) = oneshot::channel();
        let mut registry = self.lock();
        registry.next_id += 1;
        let id = registry.next_id;
        registry
            .devices
            .entry(device.clone())
            .or_default()
            .push(Entry {
                id,
                events: tx,
                end: Some(end_tx),
            });
        let sessions = registry.users.entry(device.user_id.clone()).or_default();
        *sessions += 1;
        let first = *sessions == 1;
        drop(registry);
        let subscription = Subscription {
            hub: self.clone(),
            device,
            id,
            closed: false,
            rx,
            ended,
        };
        (subscription, first)
    }

    /// Hands `event` to every local session among `targets`. A session whose queue is full is
    /// dropped from the registry (its receiver ends; it tells the client to resync).
    pub(crate) fn deliver(&self, event: &Arc<Event>, targets: &Targets) {
        let mut registry = self.lock();
        let mut emptied = false;
        let mut send_all = |senders: &mut Vec<Entry>| {
            senders.retain(|entry| entry.events.try_send(event.clone()).is_ok());
            emptied |= senders.is_empty();
        };
        match targets {
            Targets::Devices(devices) if devices.len() < registry.devices.len() => {
                for device in devices.iter() {
                    if let Some(senders) = registry.devices.get_mut(device) {
                        send_all(senders);
                    }
                }
            }
            _ => {
                for (device, senders) in registry.devices.iter_mut() {
                    if targets.contains(device) {
                        send_all(senders);
                    }
                }
            }
        }
        if emptied {
            registry.devices.retain(|_, senders| !senders.is_empty());
        }
    }

    /// Ends every local session of `device`: each gets what is already queued, then `end`.
    pub(crate) fn end_device(&self, device: &DeviceRef, end: SessionEnd) {
        let ended = self.lock().devices.remove(device).unwrap_or_default();
        for mut entry in ended {
            if let Some(tx) = entry.end.take() {
                let _ = tx.send(end);
            }
        }
    }

    /// Number of registered sessions (for tests and metrics).
    pub(crate) fn session_count(&self) -> usize {
        self.lock().devices.values().map(Vec::len).sum()
    }
}
