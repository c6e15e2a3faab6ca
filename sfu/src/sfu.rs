//! The public handle: starts the workers and the rooms layer, and hands out peer handles.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use tokio::sync::mpsc;

use crate::config::SfuConfig;
use crate::engine::{Command, EngineEvent};
use crate::error::SfuError;
use crate::events::{LeaveReason, PeerEvent};
use crate::ids::{ParticipantInfo, PeerId, RoomId};
use crate::policy::{Grants, RoomPolicy, Source, TrackDeclaration};
use crate::rooms::{CommandSink, Rooms, Target};
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

struct Inner {
    workers: Vec<WorkerHandle>,
    rooms: Arc<Mutex<Rooms>>,
    rooms_thread: Option<JoinHandle<()>>,
    stats: SfuStats,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for w in &mut self.workers {
            w.stop();
        }
        // The workers' event senders are gone with their threads: the rooms thread ends.
        if let Some(t) = self.rooms_thread.take() {
            let _ = t.join();
        }
    }
}

/// The media plane of one process. Cheap to clone.
#[derive(Clone)]
pub struct Sfu {
    inner: Arc<Inner>,
}

impl Sfu {
    /// Binds one UDP socket per worker and starts the worker threads and the rooms layer's
    /// thread.
    pub fn start(config: SfuConfig) -> Result<Sfu, SfuError> {
        config
            .validate()
            .map_err(|e| SfuError::Config(e.to_string()))?;
        str0m::crypto::from_feature_flags().install_process_default();
        let (events_tx, events_rx) = crossbeam_channel::unbounded::<EngineEvent>();
        let mut workers = Vec::with_capacity(config.workers);
        let mut stats = SfuStats::default();
        for index in 0..config.workers {
            let port = if config.base_port == 0 {
                0
            } else {
                config.base_port + index as u16
            };
            let worker = WorkerHandle::spawn(
                index,
                SocketAddr::new(config.bind_ip, port),
                &config,
                events_tx.clone(),
            )?;
            stats.workers.push(worker.stats.clone());
            workers.push(worker);
        }
        drop(events_tx);
        let sinks: Vec<Box<dyn CommandSink>> = workers
            .iter()
            .map(|w| Box::new(w.sender()) as Box<dyn CommandSink>)
            .collect();
        let rooms = Arc::new(Mutex::new(Rooms::new(sinks)));
        let rooms_thread = {
            let rooms = rooms.clone();
            std::thread::Builder::new()
                .name("sfu-rooms".into())
                .spawn(move || {
                    while let Ok(event) = events_rx.recv() {
                        let mut rooms = lock(&rooms);
                        rooms.apply(event);
                        while let Ok(more) = events_rx.try_recv() {
                            rooms.apply(more);
                        }
                    }
                })?
        };
        Ok(Sfu {
            inner: Arc::new(Inner {
                workers,
                rooms,
                rooms_thread: Some(rooms_thread),
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

    /// The counters as a Prometheus collector, for the process's registry.
    pub fn collector(&self) -> crate::StatsCollector {
        let stats = self.inner.stats.clone();
        crate::StatsCollector::new(move || stats.snapshot())
    }

    /// Number of rooms with at least one live handle.
    pub fn room_count(&self) -> usize {
        self.rooms().room_count()
    }

    fn rooms(&self) -> MutexGuard<'_, Rooms> {
        lock(&self.inner.rooms)
    }

    /// Adds a peer to a room, placing the room on the least loaded worker if it is new. Refused
    /// with [`SfuError::RoomFull`] when the room is at its own limit.
    pub fn join(&self, request: JoinRequest) -> Result<PeerHandle, SfuError> {
        let room = request.room.clone();
        let placed = self.rooms().join(request)?;
        Ok(PeerHandle {
            id: placed.peer,
            room,
            worker: placed.worker,
            sfu: self.clone(),
            events: placed.events,
        })
    }

    /// Moderation: stops (or resumes) forwarding everything `target` publishes in `room`; the
    /// room sees a server mute. Returns how many sessions it reached.
    pub fn server_mute(
        &self,
        room: &RoomId,
        target: &Target,
        muted: bool,
    ) -> Result<usize, SfuError> {
        self.rooms().server_mute(room, target, muted)
    }

    /// Moderation: ends `target`'s sessions in `room` with `kicked`.
    pub fn kick(&self, room: &RoomId, target: &Target) -> Result<usize, SfuError> {
        self.rooms().kick(room, target)
    }

    /// Changes what `target` may publish in `room`; tracks of sources it lost end now.
    pub fn set_grants(
        &self,
        room: &RoomId,
        target: &Target,
        grants: Grants,
    ) -> Result<usize, SfuError> {
        self.rooms().set_grants(room, target, grants)
    }
}

/// A poisoned rooms lock still holds a consistent roster: every command and event is applied
/// whole or not at all before anything that could panic.
fn lock(rooms: &Mutex<Rooms>) -> MutexGuard<'_, Rooms> {
    rooms
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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
    pub fn set_muted(&self, source: Source, muted: bool) {
        self.sfu.rooms().set_muted(self.id, source, muted);
    }

    /// How the client shows a remote track (`track_settings`): decides the simulcast layer it
    /// receives, or pauses it.
    pub fn set_track_view(&self, track_id: String, view: crate::TrackView) -> Result<(), SfuError> {
        self.send(Command::SetTrackView {
            peer: self.id,
            track_id,
            view,
        })
    }

    /// The room this peer is in.
    pub fn room(&self) -> &RoomId {
        &self.room
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
        self.sfu.rooms().leave(self.id);
    }
}
