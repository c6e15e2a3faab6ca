//! The public handle: starts workers, places rooms on them and hands out peer handles.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::config::SfuConfig;
use crate::engine::Command;
use crate::error::SfuError;
use crate::events::{LeaveReason, PeerEvent};
use crate::ids::{ParticipantInfo, PeerId, RoomId};
use crate::policy::{Grants, RoomPolicy, Source, TrackDeclaration};
use crate::runtime::WorkerHandle;
use crate::stats::SfuStats;

/// What a session asks for when its client joins a room.
#[derive(Clone, Debug)]
pub struct JoinRequest {
    /// The room (one per RTC channel).
    pub room: RoomId,
    /// The room's policy; the first joiner's policy creates the room.
    pub policy: RoomPolicy,
    /// Who joins.
    pub participant: ParticipantInfo,
    /// What they may publish.
    pub grants: Grants,
}

/// Where a room lives and how full it is.
struct Placement {
    worker: usize,
    handles: usize,
    /// The room's limit, from the policy it was created with.
    max_participants: usize,
}

struct Inner {
    workers: Vec<WorkerHandle>,
    rooms: Mutex<HashMap<RoomId, Placement>>,
    next_peer: AtomicU64,
    stats: SfuStats,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for w in &mut self.workers {
            w.stop();
        }
    }
}

/// The media plane of one process. Cheap to clone.
#[derive(Clone)]
pub struct Sfu {
    inner: Arc<Inner>,
}

impl Sfu {
    /// Binds one UDP socket per worker and starts the worker threads.
    pub fn start(config: SfuConfig) -> Result<Sfu, SfuError> {
        config.validate().map_err(SfuError::Config)?;
        str0m::crypto::from_feature_flags().install_process_default();
        let mut workers = Vec::with_capacity(config.workers);
        let mut stats = SfuStats::default();
        for index in 0..config.workers {
            let port = if config.base_port == 0 {
                0
            } else {
                config.base_port + index as u16
            };
            let worker =
                WorkerHandle::spawn(index, SocketAddr::new(config.bind_ip, port), &config)?;
            stats.workers.push(worker.stats.clone());
            workers.push(worker);
        }
        Ok(Sfu {
            inner: Arc::new(Inner {
                workers,
                rooms: Mutex::new(HashMap::new()),
                next_peer: AtomicU64::new(1),
                stats,
            }),
        })
    }

    /// The UDP address each worker listens on.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.inner.workers.iter().map(|w| w.local_addr).collect()
    }

    /// Counters of all workers.
    pub fn stats(&self) -> &SfuStats {
        &self.inner.stats
    }

    /// Number of rooms with at least one live handle.
    pub fn room_count(&self) -> usize {
        self.rooms().len()
    }

    fn rooms(&self) -> std::sync::MutexGuard<'_, HashMap<RoomId, Placement>> {
        // A poisoned map still holds consistent counts: every critical section is one insert/update.
        self.inner
            .rooms
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a peer to a room, placing the room on the least loaded worker if it is new.
    pub fn join(&self, request: JoinRequest) -> Result<PeerHandle, SfuError> {
        let worker = {
            let mut rooms = self.rooms();
            let load = |w: usize, rooms: &HashMap<RoomId, Placement>| -> usize {
                rooms
                    .values()
                    .filter(|p| p.worker == w)
                    .map(|p| p.handles)
                    .sum()
            };
            match rooms.get_mut(&request.room) {
                Some(p) => {
                    // The room's own limit (its first joiner's policy, as the engine's room
                    // keeps it), not the newcomer's.
                    if p.handles >= p.max_participants {
                        return Err(SfuError::RoomFull(p.handles));
                    }
                    p.handles += 1;
                    p.worker
                }
                None => {
                    let worker = (0..self.inner.workers.len())
                        .min_by_key(|w| load(*w, &rooms))
                        .unwrap_or(0);
                    let max_participants = request.policy.max_participants;
                    rooms.insert(
                        request.room.clone(),
                        Placement {
                            worker,
                            handles: 1,
                            max_participants,
                        },
                    );
                    worker
                }
            }
        };
        let id = PeerId(self.inner.next_peer.fetch_add(1, Ordering::Relaxed));
        let (events_tx, events) = mpsc::unbounded_channel();
        let handle = PeerHandle {
            id,
            room: request.room.clone(),
            worker,
            sfu: self.clone(),
            events,
        };
        handle.send(Command::AddPeer {
            peer: id,
            request: Box::new(request),
            events: events_tx,
        })?;
        Ok(handle)
    }

    fn release(&self, room: &RoomId) {
        let mut rooms = self.rooms();
        if let Some(p) = rooms.get_mut(room) {
            p.handles = p.handles.saturating_sub(1);
            if p.handles == 0 {
                rooms.remove(room);
            }
        }
    }
}

/// A session's grip on its peer: commands in, events out. Dropping it removes the peer.
pub struct PeerHandle {
    id: PeerId,
    room: RoomId,
    worker: usize,
    sfu: Sfu,
    events: mpsc::UnboundedReceiver<PeerEvent>,
}

impl PeerHandle {
    /// This peer's id.
    pub fn id(&self) -> PeerId {
        self.id
    }

    /// The next event for this peer; `None` once the worker has dropped it.
    pub async fn next_event(&mut self) -> Option<PeerEvent> {
        self.events.recv().await
    }

    /// An event if one is ready.
    pub fn try_next_event(&mut self) -> Option<PeerEvent> {
        self.events.try_recv().ok()
    }

    fn send(&self, command: Command) -> Result<(), SfuError> {
        self.sfu.inner.workers[self.worker].send(command)
    }

    /// Applies the client's SDP offer; the answer (or an error) arrives as an event.
    pub fn offer(&self, sdp: String, tracks: Vec<TrackDeclaration>) -> Result<(), SfuError> {
        self.send(Command::Offer {
            peer: self.id,
            sdp,
            tracks,
        })
    }

    /// Applies the client's answer to the outstanding server offer.
    pub fn answer(&self, sdp: String) -> Result<(), SfuError> {
        self.send(Command::Answer { peer: self.id, sdp })
    }

    /// Adds a trickled remote ICE candidate (SDP `candidate:` line).
    pub fn add_candidate(&self, candidate: String) -> Result<(), SfuError> {
        self.send(Command::Candidate {
            peer: self.id,
            candidate,
        })
    }

    /// Records that the client (un)muted a source and tells the room.
    pub fn set_muted(&self, source: Source, muted: bool) -> Result<(), SfuError> {
        self.send(Command::SetMuted {
            peer: self.id,
            source,
            muted,
        })
    }

    /// Moderation: stop (or resume) forwarding anything this peer publishes.
    pub fn server_mute(&self, muted: bool) -> Result<(), SfuError> {
        self.send(Command::ServerMute {
            peer: self.id,
            muted,
        })
    }

    /// Removes the peer now, telling the room why.
    pub fn remove(&self, reason: LeaveReason) -> Result<(), SfuError> {
        self.send(Command::Remove {
            peer: self.id,
            reason,
        })
    }
}

impl Drop for PeerHandle {
    fn drop(&mut self) {
        let _ = self.send(Command::Remove {
            peer: self.id,
            reason: LeaveReason::Left,
        });
        self.sfu.release(&self.room);
    }
}
