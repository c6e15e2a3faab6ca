//! What a late joiner learns about the room: who is there, what they publish, who is speaking
//! and what they muted.

mod harness;

use std::time::{Duration, Instant};

use harness::*;
use sfu::{PeerEvent, RoomKind, Source};
use str0m::media::{Direction, MediaKind};

#[test]
fn a_late_joiner_learns_who_speaks_and_what_is_muted() {
    let sfu = start_sfu();
    let mut a = Client::new("a", join(&sfu, "state", "alice", mic(), RoomKind::Voice));
    let mut b = Client::new("b", join(&sfu, "state", "bob", mic(), RoomKind::Voice));
    a.offer(&[(MediaKind::Audio, Direction::SendOnly)]);
    b.offer(&[(MediaKind::Audio, Direction::SendRecv)]);
    assert!(pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(10),
        |c| c.iter().all(|c| c.connected)
            && c[1].saw(|e| matches!(e, PeerEvent::TrackPublished { .. }))
    ));
    b.handle.set_muted(Source::Microphone, true).expect("sent");

    // Alice talks (loud RFC 6464 levels) until Bob hears that she speaks.
    let start = Instant::now();
    let mut n = 0u64;
    let speaking = |c: &Client| {
        c.saw(|e| {
            matches!(e, PeerEvent::Speaking { participant_id, speaking: true, .. }
                if participant_id == "p_alice")
        })
    };
    while !speaking(&b) && start.elapsed() < Duration::from_secs(10) {
        a.send_frame_at_level(n, &[0x11; 40], Some(20));
        n += 1;
        let until = start + Duration::from_millis(20 * n);
        pump_until(
            &mut [&mut a, &mut b],
            until.saturating_duration_since(Instant::now()),
            |_| false,
        );
    }
    assert!(speaking(&b), "bob hears alice start speaking");

    // Carol joins while Alice still talks.
    let mut c = Client::new("c", join(&sfu, "state", "carol", mic(), RoomKind::Voice));
    let joined = loop {
        a.send_frame_at_level(n, &[0x11; 40], Some(20));
        n += 1;
        pump_until(
            &mut [&mut a, &mut b, &mut c],
            Duration::from_millis(20),
            |_| false,
        );
        if let Some(participants) = c.events.iter().find_map(|e| match e {
            PeerEvent::Joined { participants } => Some(participants.clone()),
            _ => None,
        }) {
            break participants;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "carol joins");
    };
    let alice = joined
        .iter()
        .find(|p| p.info.participant_id == "p_alice")
        .expect("alice listed");
    assert!(alice.speaking, "alice is speaking: {alice:?}");
    assert!(alice.muted.is_empty());
    assert_eq!(alice.tracks.len(), 1);
    let bob = joined
        .iter()
        .find(|p| p.info.participant_id == "p_bob")
        .expect("bob listed");
    assert!(!bob.speaking);
    assert_eq!(bob.muted, [Source::Microphone]);
    assert!(
        bob.tracks.iter().all(|t| t.muted),
        "bob's microphone track is muted: {bob:?}"
    );
}
