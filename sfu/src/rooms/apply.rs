//! Engine events in, session events out.

use str0m::media::Mid;

use super::Rooms;
use super::roster::PublishedTrack;
use crate::engine::{EngineEvent, SpeakerChange};
use crate::events::{PeerEvent, TrackSnapshot};
use crate::ids::{PeerId, RoomId};

impl Rooms {
    /// Applies one engine event: updates the roster and tells the sessions concerned.
    pub fn apply(&mut self, event: EngineEvent) {
        match event {
            EngineEvent::ToPeer { peer, event } => self.send_to_peer(peer, event),
            EngineEvent::PeerJoined { peer } => self.peer_joined(peer),
            EngineEvent::PeerLeft { peer, reason } => {
                let Some(session) = self.sessions.get_mut(&peer) else {
                    return;
                };
                let was_joined = std::mem::replace(&mut session.joined, false);
                session.closed = true;
                session.tracks.clear();
                let room = session.room.clone();
                let participant_id = session.info.participant_id.clone();
                let _ = session.events.send(PeerEvent::Closed { reason });
                if session.handle_dropped {
                    self.sessions.remove(&peer);
                }
                if was_joined {
                    let left = PeerEvent::ParticipantLeft {
                        participant_id,
                        reason,
                    };
                    self.tell_room(&room, Some(peer), &left);
                }
            }
            EngineEvent::TrackAdded {
                publisher,
                mid,
                track,
            } => self.track_added(publisher, mid, track),
            EngineEvent::TrackRemoved { publisher, mid } => self.track_removed(publisher, mid),
            EngineEvent::Speakers { room, changes } => self.speakers(&room, &changes),
        }
    }

    fn send_to_peer(&mut self, peer: PeerId, mut event: PeerEvent) {
        // The engine does not keep mute state: a track announced to a subscriber shows its
        // publisher's.
        if let PeerEvent::TrackPublished {
            participant_id,
            track,
            ..
        } = &mut event
            && let Some(room) = self.sessions.get(&peer).map(|s| s.room.clone())
            && let Some(publisher) = self.find(&room, |s| &s.info.participant_id == participant_id)
            && let Some(s) = self.sessions.get(&publisher)
        {
            track.muted = s.has_muted(track.source);
        }
        self.tell(peer, event);
    }

    fn peer_joined(&mut self, peer: PeerId) {
        let Some(session) = self.sessions.get_mut(&peer) else {
            return; // its handle dropped before the engine added it; the engine removes it
        };
        session.joined = true;
        let room = session.room.clone();
        let newcomer = session.snapshot();
        let participants = self
            .rooms
            .get(&room)
            .map(|entry| {
                entry
                    .peers
                    .iter()
                    .filter(|p| **p != peer)
                    .filter_map(|p| self.sessions.get(p))
                    .filter(|s| s.joined)
                    .map(|s| s.snapshot())
                    .collect()
            })
            .unwrap_or_default();
        self.tell_room(&room, Some(peer), &PeerEvent::ParticipantJoined(newcomer));
        self.tell(peer, PeerEvent::Joined { participants });
    }

    fn track_added(&mut self, publisher: PeerId, mid: Mid, mut snapshot: TrackSnapshot) {
        let Some(session) = self.sessions.get_mut(&publisher) else {
            return;
        };
        snapshot.muted = session.has_muted(snapshot.source);
        session.tracks.retain(|t| t.mid != mid);
        session.tracks.push(PublishedTrack {
            mid,
            snapshot,
            speaking: false,
            level: 127,
        });
    }

    fn track_removed(&mut self, publisher: PeerId, mid: Mid) {
        let Some(session) = self.sessions.get_mut(&publisher) else {
            return;
        };
        let was_speaking = session.speaking();
        session.tracks.retain(|t| t.mid != mid);
        if was_speaking && !session.speaking() && session.joined {
            let room = session.room.clone();
            let event = PeerEvent::Speaking {
                participant_id: session.info.participant_id.clone(),
                speaking: false,
                level: 127,
            };
            self.tell_room(&room, None, &event);
        }
    }

    /// A participant speaks while any of its tracks does: the room hears of each change of that,
    /// once.
    fn speakers(&mut self, room: &RoomId, changes: &[SpeakerChange]) {
        for change in changes {
            let Some(session) = self.sessions.get_mut(&change.publisher) else {
                continue;
            };
            let before = session.speaking();
            let Some(track) = session.tracks.iter_mut().find(|t| t.mid == change.mid) else {
                continue;
            };
            track.speaking = change.speaking;
            track.level = change.level;
            let after = session.speaking();
            if before == after || !session.joined {
                continue;
            }
            let event = PeerEvent::Speaking {
                participant_id: session.info.participant_id.clone(),
                speaking: after,
                level: if after { change.level } else { 127 },
            };
            self.tell_room(room, None, &event);
        }
    }

    /// The first session of `room` that `pred` accepts.
    pub(super) fn find(
        &self,
        room: &RoomId,
        pred: impl Fn(&super::roster::Session) -> bool,
    ) -> Option<PeerId> {
        let entry = self.rooms.get(room)?;
        entry
            .peers
            .iter()
            .copied()
            .find(|p| self.sessions.get(p).is_some_and(&pred))
    }
}
