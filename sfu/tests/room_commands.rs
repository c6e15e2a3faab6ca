//! The rooms layer's commands on a live room, driven in memory on a fake clock: what a moderator
//! does (server mute, kick, change grants) reaches the media at once and the room sees it.

mod memnet;

use std::time::Duration;

use memnet::{Link, World, connected_pair};
use sfu::{Grants, LeaveReason, PeerEvent, RoomId, SfuConfig, SfuError, Target};

/// A 20 ms Opus frame's worth of bytes.
const FRAME: [u8; 60] = [0x42; 60];

fn room() -> RoomId {
    RoomId("room".into())
}

/// Frames the client `i` has received so far.
fn heard(world: &World, i: usize) -> usize {
    world.clients[i].media.len()
}

#[test]
fn a_server_mute_stops_the_media_at_once_and_lifting_it_restores_it() {
    let mut world = World::new(SfuConfig::default(), 11);
    let (alice, bob) = connected_pair(&mut world, Link::clean(), false);
    world.talk(alice, Duration::from_secs(1), &FRAME);
    world.run_for(Duration::from_millis(50));
    assert!(heard(&world, bob) >= 45, "bob hears alice first");

    let reached = world
        .rooms(|r| r.server_mute(&room(), &Target::User("alice".into()), true))
        .expect("alice is in the room");
    assert_eq!(reached, 1);
    let dropped_before = world.stats().packets_dropped_policy;
    let before = heard(&world, bob);
    world.talk(alice, Duration::from_secs(1), &FRAME);
    world.run_for(Duration::from_millis(50));
    assert_eq!(
        heard(&world, bob),
        before,
        "nothing is forwarded while muted"
    );
    assert!(world.stats().packets_dropped_policy >= dropped_before + 45);
    for i in [alice, bob] {
        assert!(
            world.clients[i].saw(|e| matches!(e,
                PeerEvent::ServerMuted { participant_id, muted: true } if participant_id == "p_alice")),
            "{} is shown the server mute",
            world.clients[i].name
        );
    }

    world
        .rooms(|r| r.server_mute(&room(), &Target::Participant("p_alice".into()), false))
        .expect("lifted");
    world.talk(alice, Duration::from_secs(1), &FRAME);
    world.run_for(Duration::from_millis(50));
    assert!(
        heard(&world, bob) >= before + 45,
        "media flows again without a rejoin: {} new frames",
        heard(&world, bob) - before
    );
    assert!(world.clients[bob].saw(|e| matches!(e, PeerEvent::ServerMuted { muted: false, .. })));
}

#[test]
fn a_kick_ends_the_session_with_kicked_and_the_room_sees_why() {
    let mut world = World::new(SfuConfig::default(), 12);
    let (alice, bob) = connected_pair(&mut world, Link::clean(), false);
    world
        .rooms(|r| r.kick(&room(), &Target::Participant("p_alice".into())))
        .expect("kicked");
    assert!(world.run_until(Duration::from_secs(1), |w| {
        w.clients[alice].saw(|e| {
            matches!(
                e,
                PeerEvent::Closed {
                    reason: LeaveReason::Kicked
                }
            )
        })
    }));
    assert!(world.clients[bob].saw(|e| matches!(e,
        PeerEvent::ParticipantLeft { participant_id, reason: LeaveReason::Kicked }
            if participant_id == "p_alice")));
    assert!(world.clients[bob].saw(|e| matches!(e, PeerEvent::TrackUnpublished { .. })));
    let again = world.rooms(|r| r.kick(&room(), &Target::Participant("p_alice".into())));
    assert!(
        matches!(again, Err(SfuError::NotInRoom(_))),
        "a closed session is no longer in the room: {again:?}"
    );
}

#[test]
fn losing_a_grant_ends_the_track_and_its_media() {
    let mut world = World::new(SfuConfig::default(), 13);
    let (alice, bob) = connected_pair(&mut world, Link::clean(), false);
    world
        .rooms(|r| r.set_grants(&room(), &Target::User("alice".into()), Grants::default()))
        .expect("alice is there");
    assert!(world.run_until(Duration::from_secs(1), |w| {
        w.clients[bob].saw(|e| matches!(e, PeerEvent::TrackUnpublished { .. }))
    }));
    assert!(world.clients[alice].saw(|e| matches!(e,
        PeerEvent::GrantsChanged { grants } if !grants.microphone)));
    let before = heard(&world, bob);
    world.talk(alice, Duration::from_secs(1), &FRAME);
    world.run_for(Duration::from_millis(50));
    assert_eq!(
        heard(&world, bob),
        before,
        "a revoked source is not forwarded"
    );
    // Alice is still in the room, and may listen.
    assert!(world.clients[alice].fatal().is_none());
}

#[test]
fn speaking_reaches_the_room_in_batches_not_per_packet() {
    let mut world = World::new(SfuConfig::default(), 14);
    let (alice, bob) = connected_pair(&mut world, Link::clean(), false);
    // Two seconds of loud speech, then silence past the hold time.
    for n in 0..100 {
        world.send_frame_at_level(alice, n, &FRAME, Some(20));
        world.run_for(Duration::from_millis(20));
    }
    world.run_for(Duration::from_secs(1));
    let speaking: Vec<bool> = world.clients[bob]
        .events
        .iter()
        .filter_map(|e| match e {
            PeerEvent::Speaking { speaking, .. } => Some(*speaking),
            _ => None,
        })
        .collect();
    assert_eq!(speaking, vec![true, false], "one start, one stop");
}
