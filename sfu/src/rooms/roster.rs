//! What the rooms layer keeps per room and per session.

use str0m::media::Mid;
use tokio::sync::mpsc::UnboundedSender;

use crate::events::{ParticipantSnapshot, PeerEvent, TrackSnapshot};
use crate::ids::{ParticipantInfo, PeerId, RoomId};
use crate::policy::Source;

/// A room: where it lives, its limit, its sessions in join order.
pub(super) struct RoomEntry {
    pub worker: usize,
    /// From the policy the room was created with.
    pub max_participants: usize,
    pub peers: Vec<PeerId>,
}

impl RoomEntry {
    pub fn new(worker: usize, max_participants: usize) -> RoomEntry {
        RoomEntry {
            worker,
            max_participants,
            peers: Vec::new(),
        }
    }
}

/// A track a session publishes, as the room sees it.
pub(super) struct PublishedTrack {
    pub mid: Mid,
    pub snapshot: TrackSnapshot,
    pub speaking: bool,
    pub level: u8,
}

/// One session (one peer) and what the room knows of it.
pub(super) struct Session {
    pub room: RoomId,
    pub worker: usize,
    pub info: ParticipantInfo,
    pub events: UnboundedSender<PeerEvent>,
    /// The engine reported it in the room (others know of it).
    pub joined: bool,
    /// Its handle dropped; it goes once the engine reports it left.
    pub handle_dropped: bool,
    /// The engine reported it left: room commands no longer reach it.
    pub closed: bool,
    /// Sources it declared muted, in a fixed order.
    pub muted: Vec<Source>,
    pub server_muted: bool,
    pub tracks: Vec<PublishedTrack>,
}

impl Session {
    pub fn new(
        room: RoomId,
        worker: usize,
        info: ParticipantInfo,
        events: UnboundedSender<PeerEvent>,
    ) -> Session {
        Session {
            room,
            worker,
            info,
            events,
            joined: false,
            handle_dropped: false,
            closed: false,
            muted: Vec::new(),
            server_muted: false,
            tracks: Vec::new(),
        }
    }

    /// Whether any of its tracks is speaking.
    pub fn speaking(&self) -> bool {
        self.tracks.iter().any(|t| t.speaking)
    }

    /// Whether it declared `source` muted.
    pub fn has_muted(&self, source: Source) -> bool {
        self.muted.contains(&source)
    }

    /// Records a mute change; returns whether anything changed.
    pub fn set_muted(&mut self, source: Source, muted: bool) -> bool {
        let changed = self.has_muted(source) != muted;
        if muted && changed {
            self.muted.push(source);
            self.muted.sort_by_key(|s| s.as_str());
        } else if changed {
            self.muted.retain(|s| *s != source);
        }
        for t in &mut self.tracks {
            if t.snapshot.source == source {
                t.snapshot.muted = muted;
            }
        }
        changed
    }

    /// The participant as a joiner sees it.
    pub fn snapshot(&self) -> ParticipantSnapshot {
        let mut tracks: Vec<TrackSnapshot> =
            self.tracks.iter().map(|t| t.snapshot.clone()).collect();
        tracks.sort_by(|a, b| a.track_id.cmp(&b.track_id));
        ParticipantSnapshot {
            info: self.info.clone(),
            tracks,
            speaking: self.speaking(),
            muted: self.muted.clone(),
            server_muted: self.server_muted,
        }
    }
}
