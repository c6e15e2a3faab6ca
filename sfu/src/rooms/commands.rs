//! Commands on live rooms: the client's own mute, and what a moderator (or anything outside the
//! sfu) may do: server mute, kick, change grants.

use super::{Rooms, Target};
use crate::engine::Command;
use crate::error::SfuError;
use crate::events::{LeaveReason, PeerEvent};
use crate::ids::{PeerId, RoomId};
use crate::policy::{Grants, Source};

impl Rooms {
    /// The client of `peer` (un)muted `source`: the rest of the room is told.
    pub fn set_muted(&mut self, peer: PeerId, source: Source, muted: bool) {
        let Some(session) = self.sessions.get_mut(&peer) else {
            return;
        };
        session.set_muted(source, muted);
        if !session.joined {
            return;
        }
        let room = session.room.clone();
        let event = PeerEvent::Muted {
            participant_id: session.info.participant_id.clone(),
            source,
            muted,
        };
        self.tell_room(&room, Some(peer), &event);
    }

    /// Stops (or resumes) forwarding everything `target` publishes in `room`, and shows the
    /// room (the target included) a `ServerMuted` event. Returns how many sessions it reached;
    /// [`SfuError::NotInRoom`] if none.
    pub fn server_mute(
        &mut self,
        room: &RoomId,
        target: &Target,
        muted: bool,
    ) -> Result<usize, SfuError> {
        let peers = self.targets(room, target)?;
        for peer in &peers {
            self.command(*peer, Command::ServerMute { peer: *peer, muted })?;
            let Some(session) = self.sessions.get_mut(peer) else {
                continue;
            };
            session.server_muted = muted;
            let event = PeerEvent::ServerMuted {
                participant_id: session.info.participant_id.clone(),
                muted,
            };
            if session.joined {
                self.tell_room(room, None, &event);
            } else {
                self.tell(*peer, event);
            }
        }
        Ok(peers.len())
    }

    /// Removes `target` from `room`: its session ends with `kicked`, the room sees it leave
    /// with that reason.
    pub fn kick(&mut self, room: &RoomId, target: &Target) -> Result<usize, SfuError> {
        let peers = self.targets(room, target)?;
        for peer in &peers {
            self.command(
                *peer,
                Command::Remove {
                    peer: *peer,
                    reason: LeaveReason::Kicked,
                },
            )?;
        }
        Ok(peers.len())
    }

    /// Changes what `target` may publish in `room` (see [`Command::SetGrants`]).
    pub fn set_grants(
        &mut self,
        room: &RoomId,
        target: &Target,
        grants: Grants,
    ) -> Result<usize, SfuError> {
        let peers = self.targets(room, target)?;
        for peer in &peers {
            self.command(
                *peer,
                Command::SetGrants {
                    peer: *peer,
                    grants,
                },
            )?;
        }
        Ok(peers.len())
    }

    /// The live sessions of `room` that `target` names.
    fn targets(&self, room: &RoomId, target: &Target) -> Result<Vec<PeerId>, SfuError> {
        let peers: Vec<PeerId> = self
            .rooms
            .get(room)
            .map(|entry| {
                entry
                    .peers
                    .iter()
                    .copied()
                    .filter(|p| {
                        self.sessions.get(p).is_some_and(|s| {
                            !s.closed
                                && match target {
                                    Target::Participant(id) => &s.info.participant_id == id,
                                    Target::User(id) => &s.info.user_id == id,
                                }
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        if peers.is_empty() {
            return Err(SfuError::NotInRoom(room.to_string()));
        }
        Ok(peers)
    }

    fn command(&self, peer: PeerId, command: Command) -> Result<(), SfuError> {
        let worker = self
            .sessions
            .get(&peer)
            .map(|s| s.worker)
            .ok_or(SfuError::WorkerGone)?;
        self.workers
            .get(worker)
            .ok_or(SfuError::WorkerGone)?
            .send(command)
    }
}
