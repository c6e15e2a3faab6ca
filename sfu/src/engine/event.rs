//! What the engine tells the rooms layer: events for one peer's session, and the room facts the
//! rooms layer keeps its roster from (who is in, what they publish, who speaks).

use std::collections::VecDeque;

use str0m::media::Mid;

use crate::events::{LeaveReason, PeerEvent, TrackSnapshot};
use crate::ids::{PeerId, RoomId};

/// One thing that happened in the engine, for [`crate::rooms`] to act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineEvent {
    /// An event for this peer's session alone (answers, offers, its own errors, the tracks it
    /// will receive).
    ToPeer {
        /// The peer.
        peer: PeerId,
        /// What to tell its session.
        event: PeerEvent,
    },
    /// The peer is in its room: the others learn of it, it learns of them.
    PeerJoined {
        /// The peer.
        peer: PeerId,
    },
    /// The peer left its room (the last event about it).
    PeerLeft {
        /// The peer.
        peer: PeerId,
        /// Why.
        reason: LeaveReason,
    },
    /// The peer publishes a track on its m-line `mid`.
    TrackAdded {
        /// The publisher.
        publisher: PeerId,
        /// The publisher-side m-line.
        mid: Mid,
        /// The track as others see it (its `muted` is the rooms layer's to fill in).
        track: TrackSnapshot,
    },
    /// The track on the publisher's m-line `mid` ended.
    TrackRemoved {
        /// The publisher.
        publisher: PeerId,
        /// The publisher-side m-line.
        mid: Mid,
    },
    /// Speaking changes of one room's tracks since the last batch, oldest first (one batch per
    /// housekeeping interval, never one per packet).
    Speakers {
        /// The room.
        room: RoomId,
        /// What changed.
        changes: Vec<SpeakerChange>,
    },
}

/// A track started or stopped speaking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpeakerChange {
    /// The publisher.
    pub publisher: PeerId,
    /// The publisher-side m-line of the track.
    pub mid: Mid,
    /// Speaking now.
    pub speaking: bool,
    /// Loudest recent level, 0 (loudest) ... 127 -dBov.
    pub level: u8,
}

/// Events waiting for [`Engine::poll_output`](super::Engine::poll_output).
#[derive(Default)]
pub(crate) struct EventQueue(VecDeque<EngineEvent>);

impl EventQueue {
    /// Queues an event for `peer`'s session.
    pub fn send_to_peer(&mut self, peer: PeerId, event: PeerEvent) {
        self.0.push_back(EngineEvent::ToPeer { peer, event });
    }

    /// Queues a room fact.
    pub fn push(&mut self, event: EngineEvent) {
        self.0.push_back(event);
    }

    pub fn pop(&mut self) -> Option<EngineEvent> {
        self.0.pop_front()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
