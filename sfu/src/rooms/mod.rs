//! The rooms layer, above forwarding: the roster of every room (who is in, what they publish,
//! what they muted, who speaks), where rooms live and how full they may get, and the commands a
//! caller outside the sfu issues (server mute, kick, change grants).
//!
//! It runs off the packet threads. The engines report what happens as
//! [`EngineEvent`](crate::engine::EngineEvent)s; [`Rooms::apply`] turns each into the events the
//! sessions see (`participant_joined`, `speaking`, ...). Room commands go to the engine that owns
//! the peer through a [`CommandSink`]. Like the rest of the sfu it knows no database and no
//! HTTP: whatever wires moderation to live rooms calls [`Rooms`] (through [`crate::Sfu`]).

mod apply;
mod commands;
mod roster;

use std::collections::HashMap;

use tokio::sync::mpsc::{self, UnboundedReceiver};

use crate::engine::Command;
use crate::error::SfuError;
use crate::events::PeerEvent;
use crate::ids::{PeerId, RoomId};
use crate::sfu::JoinRequest;
use roster::{RoomEntry, Session};

/// Where the rooms layer sends commands for the engine of one worker.
pub trait CommandSink: Send {
    /// Queues `command` for the engine and wakes it.
    fn send(&self, command: Command) -> Result<(), SfuError>;
}

/// Whom a room command is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// One participant (one session) by its participant id.
    Participant(String),
    /// Every session of this user in the room.
    User(String),
}

/// A peer just placed in its room: its id, its worker, and where its events arrive.
pub struct Placed {
    /// The peer.
    pub peer: PeerId,
    /// The worker (engine) that owns it.
    pub worker: usize,
    /// Its session's events.
    pub events: UnboundedReceiver<PeerEvent>,
}

/// Every room of the process: placement, limits, rosters, sessions.
pub struct Rooms {
    workers: Vec<Box<dyn CommandSink>>,
    rooms: HashMap<RoomId, RoomEntry>,
    sessions: HashMap<PeerId, Session>,
    next_peer: u64,
}

impl Rooms {
    /// No rooms yet; one sink per worker, in worker order.
    pub fn new(workers: Vec<Box<dyn CommandSink>>) -> Rooms {
        Rooms {
            workers,
            rooms: HashMap::new(),
            sessions: HashMap::new(),
            next_peer: 1,
        }
    }

    /// Number of rooms with at least one session.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// Places a new peer: in its room if the room exists and has space under the room's own
    /// limit (the policy it was created with, not the newcomer's), else in a new room on the
    /// least loaded worker. The engine is told to add it.
    pub fn join(&mut self, request: JoinRequest) -> Result<Placed, SfuError> {
        let worker = match self.rooms.get(&request.room) {
            Some(entry) if entry.peers.len() >= entry.max_participants => {
                return Err(SfuError::RoomFull(entry.peers.len()));
            }
            Some(entry) => entry.worker,
            None => self.least_loaded_worker(),
        };
        let peer = PeerId(self.next_peer);
        self.next_peer += 1;
        let (tx, events) = mpsc::unbounded_channel();
        let sink = self.workers.get(worker).ok_or(SfuError::WorkerGone)?;
        let session = Session::new(
            request.room.clone(),
            worker,
            request.participant.clone(),
            tx,
        );
        let room = request.room.clone();
        let max_participants = request.policy.max_participants;
        sink.send(Command::AddPeer {
            peer,
            request: Box::new(request),
        })?;
        self.rooms
            .entry(room)
            .or_insert_with(|| RoomEntry::new(worker, max_participants))
            .peers
            .push(peer);
        self.sessions.insert(peer, session);
        Ok(Placed {
            peer,
            worker,
            events,
        })
    }

    /// The session of `peer` ended (its handle dropped): the engine removes the peer, and its
    /// place in the room is free at once. The room hears of it when the engine reports it left.
    pub fn leave(&mut self, peer: PeerId) {
        let Some(session) = self.sessions.get_mut(&peer) else {
            return;
        };
        let room = session.room.clone();
        let worker = session.worker;
        if session.joined {
            session.handle_dropped = true;
        } else {
            // The engine has not reported it in: no one else knows of it.
            self.sessions.remove(&peer);
        }
        if let Some(entry) = self.rooms.get_mut(&room) {
            entry.peers.retain(|p| *p != peer);
            if entry.peers.is_empty() {
                self.rooms.remove(&room);
            }
        }
        if let Some(sink) = self.workers.get(worker) {
            let _ = sink.send(Command::Remove {
                peer,
                reason: crate::events::LeaveReason::Left,
            });
        }
    }

    fn least_loaded_worker(&self) -> usize {
        (0..self.workers.len())
            .min_by_key(|w| {
                self.rooms
                    .values()
                    .filter(|r| r.worker == *w)
                    .map(|r| r.peers.len())
                    .sum::<usize>()
            })
            .unwrap_or(0)
    }

    /// Sends `event` to `peer`'s session. A closed session is not an error: its handle removes
    /// the peer when it drops.
    fn tell(&self, peer: PeerId, event: PeerEvent) {
        if let Some(s) = self.sessions.get(&peer) {
            let _ = s.events.send(event);
        }
    }

    /// Sends `event` to every joined session of `room` but `except`.
    fn tell_room(&self, room: &RoomId, except: Option<PeerId>, event: &PeerEvent) {
        let Some(entry) = self.rooms.get(room) else {
            return;
        };
        for p in &entry.peers {
            if Some(*p) == except {
                continue;
            }
            if let Some(s) = self.sessions.get(p)
                && s.joined
            {
                let _ = s.events.send(event.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests;
