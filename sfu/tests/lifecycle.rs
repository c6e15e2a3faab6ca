//! Room lifecycle through the public `Sfu` and its runtime: rooms close when empty, a full room
//! refuses joins. (Dead peers timing out is tested on the fake clock: `fake_clock.rs`.)

mod harness;

use std::time::{Duration, Instant};

use harness::*;
use sfu::RoomKind;
use str0m::media::{Direction, MediaKind};

fn wait_until(deadline: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn room_closes_when_its_last_peer_leaves() {
    let sfu = start_sfu();
    let mut a = Client::new("a", join(&sfu, "lonely", "alice", mic(), RoomKind::Voice));
    a.offer(&[(MediaKind::Audio, Direction::SendRecv)]);
    assert!(pump_until(&mut [&mut a], Duration::from_secs(10), |c| c[0].connected));
    assert!(wait_until(Duration::from_secs(2), || sfu
        .stats()
        .snapshot()
        .rooms
        == 1));
    assert_eq!(sfu.room_count(), 1);
    drop(a);
    assert_eq!(sfu.room_count(), 0);
    assert!(wait_until(Duration::from_secs(2), || {
        let s = sfu.stats().snapshot();
        s.rooms == 0 && s.peers == 0
    }));
}

#[test]
fn room_full_is_refused() {
    let sfu = start_sfu();
    let request = |user: &str, max_participants: usize| {
        let mut policy = sfu::RoomPolicy::for_kind(RoomKind::Voice);
        policy.max_participants = max_participants;
        sfu::JoinRequest {
            room: sfu::RoomId("small".into()),
            policy,
            participant: sfu::ParticipantInfo {
                participant_id: user.into(),
                user_id: user.into(),
                device_id: "d".into(),
            },
            grants: mic(),
        }
    };
    let _first = sfu.join(request("a", 1)).expect("first fits");
    let err = sfu.join(request("b", 1)).err().expect("second refused");
    assert_eq!(err.code(), sfu::ErrorCode::RoomFull);
    // The room's limit counts, not the one a later joiner brings.
    let err = sfu.join(request("c", 100)).err().expect("still refused");
    assert_eq!(err.code(), sfu::ErrorCode::RoomFull);
}
