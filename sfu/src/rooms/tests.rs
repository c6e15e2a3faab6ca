use std::sync::{Arc, Mutex};

use str0m::media::Mid;
use tokio::sync::mpsc::UnboundedReceiver;

use super::*;
use crate::engine::{EngineEvent, SpeakerChange};
use crate::events::{LeaveReason, TrackSnapshot};
use crate::ids::ParticipantInfo;
use crate::policy::{Grants, MediaKind, RoomKind, RoomPolicy, Source};

/// Records the commands sent to one worker.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Command>>>);

impl CommandSink for Recorder {
    fn send(&self, command: Command) -> Result<(), SfuError> {
        self.0.lock().expect("recorder").push(command);
        Ok(())
    }
}

impl Recorder {
    fn take(&self) -> Vec<Command> {
        std::mem::take(&mut *self.0.lock().expect("recorder"))
    }
}

fn rooms(workers: usize) -> (Rooms, Vec<Recorder>) {
    let recorders: Vec<Recorder> = (0..workers).map(|_| Recorder::default()).collect();
    let sinks = recorders
        .iter()
        .map(|r| Box::new(r.clone()) as Box<dyn CommandSink>)
        .collect();
    (Rooms::new(sinks), recorders)
}

fn request(room: &str, name: &str, max_participants: usize) -> JoinRequest {
    JoinRequest {
        room: RoomId(room.into()),
        policy: RoomPolicy {
            max_participants,
            ..RoomPolicy::for_kind(RoomKind::Voice)
        },
        participant: ParticipantInfo {
            participant_id: format!("p_{name}"),
            user_id: format!("u_{name}"),
            device_id: "d".into(),
        },
        grants: Grants {
            microphone: true,
            ..Grants::default()
        },
    }
}

/// Joins `name` and has the engine report it in.
fn joined(rooms: &mut Rooms, room: &str, name: &str) -> Placed {
    let placed = rooms.join(request(room, name, 10)).expect("placed");
    rooms.apply(EngineEvent::PeerJoined { peer: placed.peer });
    placed
}

fn drain(events: &mut UnboundedReceiver<PeerEvent>) -> Vec<PeerEvent> {
    let mut out = Vec::new();
    while let Ok(e) = events.try_recv() {
        out.push(e);
    }
    out
}

fn mic(name: &str, mid: &str) -> TrackSnapshot {
    TrackSnapshot {
        track_id: format!("p_{name}-{mid}"),
        source: Source::Microphone,
        kind: MediaKind::Audio,
        muted: false,
    }
}

#[test]
fn a_room_keeps_the_limit_it_was_created_with() {
    let (mut rooms, _) = rooms(1);
    let _a = rooms.join(request("r", "a", 2)).expect("first");
    let _b = rooms.join(request("r", "b", 100)).expect("second");
    // The newcomer's policy would allow 100; the room was created for 2.
    let refused = rooms.join(request("r", "c", 100));
    assert!(matches!(refused, Err(SfuError::RoomFull(2))));
}

#[test]
fn new_rooms_go_to_the_least_loaded_worker_and_leaving_frees_a_place() {
    let (mut rooms, recorders) = rooms(2);
    let a = rooms.join(request("one", "a", 1)).expect("a");
    let b = rooms.join(request("two", "b", 1)).expect("b");
    assert_ne!(a.worker, b.worker);
    assert!(rooms.join(request("one", "c", 1)).is_err());
    rooms.leave(a.peer);
    let c = rooms
        .join(request("one", "c", 1))
        .expect("a place is free again");
    let sent = recorders[a.worker].take();
    assert!(sent.iter().any(
        |c| matches!(c, Command::Remove { peer, reason: LeaveReason::Left } if *peer == a.peer)
    ));
    assert!(
        sent.iter()
            .any(|cmd| matches!(cmd, Command::AddPeer { peer, .. } if *peer == c.peer))
    );
}

#[test]
fn joiners_learn_the_roster_and_the_room_learns_of_them() {
    let (mut rooms, _) = rooms(1);
    let mut a = joined(&mut rooms, "r", "a");
    rooms.apply(EngineEvent::TrackAdded {
        publisher: a.peer,
        mid: Mid::from("0"),
        track: mic("a", "0"),
    });
    rooms.set_muted(a.peer, Source::Microphone, true);
    let mut b = joined(&mut rooms, "r", "b");
    let b_saw = drain(&mut b.events);
    let Some(PeerEvent::Joined { participants }) = b_saw.first() else {
        panic!("b is told who is there: {b_saw:?}");
    };
    assert_eq!(participants.len(), 1);
    assert_eq!(participants[0].info.participant_id, "p_a");
    assert_eq!(participants[0].muted, vec![Source::Microphone]);
    assert!(
        participants[0].tracks[0].muted,
        "a's muted track shows muted"
    );
    let a_saw = drain(&mut a.events);
    assert!(
        a_saw.iter().any(
            |e| matches!(e, PeerEvent::ParticipantJoined(p) if p.info.participant_id == "p_b")
        )
    );
    // A track announced to b carries a's mute state, which the engine does not keep.
    rooms.apply(EngineEvent::ToPeer {
        peer: b.peer,
        event: PeerEvent::TrackPublished {
            participant_id: "p_a".into(),
            track: mic("a", "0"),
            mid: "s1".into(),
        },
    });
    let b_saw = drain(&mut b.events);
    assert!(matches!(&b_saw[..], [PeerEvent::TrackPublished { track, .. }] if track.muted));
}

#[test]
fn speaking_is_told_once_per_participant_change() {
    let (mut rooms, _) = rooms(1);
    let a = joined(&mut rooms, "r", "a");
    let mut b = joined(&mut rooms, "r", "b");
    for mid in ["0", "1"] {
        rooms.apply(EngineEvent::TrackAdded {
            publisher: a.peer,
            mid: Mid::from(mid),
            track: mic("a", mid),
        });
    }
    drain(&mut b.events);
    let change = |mid: &str, speaking| SpeakerChange {
        publisher: a.peer,
        mid: Mid::from(mid),
        speaking,
        level: 20,
    };
    // Two tracks start and one stops in one batch: a speaks throughout, said once.
    rooms.apply(EngineEvent::Speakers {
        room: RoomId("r".into()),
        changes: vec![change("0", true), change("1", true), change("0", false)],
    });
    let saw = drain(&mut b.events);
    assert_eq!(
        saw,
        vec![PeerEvent::Speaking {
            participant_id: "p_a".into(),
            speaking: true,
            level: 20
        }]
    );
    // Its last speaking track ends: the room hears it stopped.
    rooms.apply(EngineEvent::TrackRemoved {
        publisher: a.peer,
        mid: Mid::from("1"),
    });
    let saw = drain(&mut b.events);
    assert!(matches!(
        &saw[..],
        [PeerEvent::Speaking {
            speaking: false,
            ..
        }]
    ));
}

#[test]
fn a_server_mute_reaches_the_engine_and_the_whole_room() {
    let (mut rooms, recorders) = rooms(1);
    let mut a = joined(&mut rooms, "r", "a");
    let mut b = joined(&mut rooms, "r", "b");
    drain(&mut a.events);
    drain(&mut b.events);
    recorders[0].take();
    let room = RoomId("r".into());
    let reached = rooms
        .server_mute(&room, &Target::User("u_a".into()), true)
        .expect("a is in the room");
    assert_eq!(reached, 1);
    let sent = recorders[0].take();
    assert!(matches!(&sent[..], [Command::ServerMute { peer, muted: true }] if *peer == a.peer));
    for events in [&mut a.events, &mut b.events] {
        let saw = drain(events);
        assert!(
            matches!(&saw[..], [PeerEvent::ServerMuted { participant_id, muted: true }]
            if participant_id == "p_a")
        );
    }
    // A newcomer sees it in the roster.
    let mut c = joined(&mut rooms, "r", "c");
    let saw = drain(&mut c.events);
    assert!(matches!(&saw[..], [PeerEvent::Joined { participants }]
        if participants.iter().any(|p| p.info.participant_id == "p_a" && p.server_muted)));
    let missing = rooms.server_mute(&room, &Target::Participant("p_nobody".into()), true);
    assert!(matches!(missing, Err(SfuError::NotInRoom(_))));
    let elsewhere = rooms.server_mute(&RoomId("other".into()), &Target::User("u_a".into()), true);
    assert!(matches!(elsewhere, Err(SfuError::NotInRoom(_))));
}

#[test]
fn a_kick_ends_the_session_with_kicked_and_the_room_sees_why() {
    let (mut rooms, recorders) = rooms(1);
    let mut a = joined(&mut rooms, "r", "a");
    let mut b = joined(&mut rooms, "r", "b");
    drain(&mut a.events);
    drain(&mut b.events);
    recorders[0].take();
    let room = RoomId("r".into());
    rooms
        .kick(&room, &Target::Participant("p_a".into()))
        .expect("kicked");
    let sent = recorders[0].take();
    assert!(matches!(&sent[..],
        [Command::Remove { peer, reason: LeaveReason::Kicked }] if *peer == a.peer));
    // The engine removes it and says so.
    rooms.apply(EngineEvent::PeerLeft {
        peer: a.peer,
        reason: LeaveReason::Kicked,
    });
    assert_eq!(
        drain(&mut a.events),
        vec![PeerEvent::Closed {
            reason: LeaveReason::Kicked
        }]
    );
    assert_eq!(
        drain(&mut b.events),
        vec![PeerEvent::ParticipantLeft {
            participant_id: "p_a".into(),
            reason: LeaveReason::Kicked
        }]
    );
}

#[test]
fn grants_changes_go_to_the_engine_of_each_session_of_the_user() {
    let (mut rooms, recorders) = rooms(1);
    let a = joined(&mut rooms, "r", "a");
    let second = rooms.join(request("r", "a", 10)).expect("a second device");
    recorders[0].take();
    let none = Grants::default();
    let reached = rooms
        .set_grants(&RoomId("r".into()), &Target::User("u_a".into()), none)
        .expect("a is there");
    assert_eq!(reached, 2);
    let peers: Vec<PeerId> = recorders[0]
        .take()
        .iter()
        .filter_map(|c| match c {
            Command::SetGrants { peer, grants } if *grants == none => Some(*peer),
            _ => None,
        })
        .collect();
    assert_eq!(peers, vec![a.peer, second.peer]);
}

#[test]
fn a_session_gone_before_the_engine_reported_it_is_never_announced() {
    let (mut rooms, _) = rooms(1);
    let mut a = joined(&mut rooms, "r", "a");
    drain(&mut a.events);
    let b = rooms.join(request("r", "b", 10)).expect("b");
    rooms.leave(b.peer);
    // The engine adds it, then removes it: the room never hears of it.
    rooms.apply(EngineEvent::PeerJoined { peer: b.peer });
    rooms.apply(EngineEvent::PeerLeft {
        peer: b.peer,
        reason: LeaveReason::Left,
    });
    assert_eq!(drain(&mut a.events), vec![]);
}

#[test]
fn a_departed_session_is_announced_once_the_engine_reports_it_left() {
    let (mut rooms, _) = rooms(1);
    let mut a = joined(&mut rooms, "r", "a");
    let b = joined(&mut rooms, "r", "b");
    drain(&mut a.events);
    rooms.leave(b.peer);
    rooms.apply(EngineEvent::PeerLeft {
        peer: b.peer,
        reason: LeaveReason::Left,
    });
    assert_eq!(
        drain(&mut a.events),
        vec![PeerEvent::ParticipantLeft {
            participant_id: "p_b".into(),
            reason: LeaveReason::Left
        }]
    );
}
