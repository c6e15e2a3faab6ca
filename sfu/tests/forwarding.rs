//! Audio forwarding between real str0m clients over UDP on loopback.

mod harness;

use std::time::{Duration, Instant};

use harness::*;
use sfu::{ErrorCode, Grants, PeerEvent, RoomKind};
use str0m::media::{Direction, MediaKind};

#[test]
fn audio_reaches_others_but_never_its_sender() {
    let sfu = start_sfu();
    let mut a = Client::new("a", join(&sfu, "room1", "alice", mic(), RoomKind::Voice));
    let mut b = Client::new("b", join(&sfu, "room1", "bob", mic(), RoomKind::Voice));
    a.offer(&[(MediaKind::Audio, Direction::SendRecv)]);
    b.offer(&[(MediaKind::Audio, Direction::SendRecv)]);
    assert!(
        pump_until(&mut [&mut a, &mut b], Duration::from_secs(10), |c| c
            .iter()
            .all(|c| c.connected)),
        "both connect"
    );
    // Both learn of the other's track and renegotiate.
    assert!(pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(10),
        |c| {
            c.iter()
                .all(|c| c.saw(|e| matches!(e, PeerEvent::TrackPublished { .. })))
        }
    ));
    let start = Instant::now();
    let mut n = 0u64;
    // Send 50 frames each, paced at 20 ms, pumping between.
    while n < 50 {
        a.send_frame(n, &[0xa0; 40]);
        b.send_frame(n, &[0xb0; 40]);
        n += 1;
        let until = start + Duration::from_millis(20 * n);
        pump_until(
            &mut [&mut a, &mut b],
            until.saturating_duration_since(Instant::now()),
            |_| false,
        );
    }
    assert!(pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(5),
        |c| c.iter().all(|c| c.media.len() >= 40)
    ));
    assert!(
        a.media.iter().all(|m| m.data.iter().all(|b| *b == 0xb0)),
        "a hears only b"
    );
    assert!(
        b.media.iter().all(|m| m.data.iter().all(|b| *b == 0xa0)),
        "b hears only a"
    );
    let stats = sfu.stats().snapshot();
    assert!(stats.packets_forwarded >= 80, "{stats:?}");
    assert_eq!(stats.rooms, 1);
}

#[test]
fn video_in_voice_room_is_rejected_with_code() {
    let sfu = start_sfu();
    let mut a = Client::new("a", join(&sfu, "room2", "alice", mic(), RoomKind::Voice));
    a.offer(&[
        (MediaKind::Audio, Direction::SendRecv),
        (MediaKind::Video, Direction::SendRecv),
    ]);
    assert!(pump_until(&mut [&mut a], Duration::from_secs(10), |c| c[0].connected));
    assert!(a.saw(|e| matches!(
        e,
        PeerEvent::Error {
            code: ErrorCode::MediaSourceNotAllowed,
            fatal: false,
            ..
        }
    )));
    let answer = a.events.iter().find_map(|e| match e {
        PeerEvent::Answer { sdp } => Some(sdp.clone()),
        _ => None,
    });
    let answer = answer.expect("answered");
    assert!(
        answer.contains("m=video 0 "),
        "video m-line rejected in the answer:\n{answer}"
    );
}

#[test]
fn listener_without_grant_is_not_forwarded() {
    let sfu = start_sfu();
    let mut a = Client::new(
        "a",
        join(&sfu, "room3", "alice", Grants::default(), RoomKind::Voice),
    );
    let mut b = Client::new("b", join(&sfu, "room3", "bob", mic(), RoomKind::Voice));
    a.offer(&[(MediaKind::Audio, Direction::SendRecv)]);
    b.offer(&[(MediaKind::Audio, Direction::RecvOnly)]);
    assert!(pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(10),
        |c| c.iter().all(|c| c.connected)
    ));
    assert!(a.saw(|e| matches!(
        e,
        PeerEvent::Error {
            code: ErrorCode::PublishNotPermitted,
            ..
        }
    )));
    for n in 0..25 {
        a.send_frame(n, &[1; 20]);
        pump_until(&mut [&mut a, &mut b], Duration::from_millis(20), |_| false);
    }
    assert!(b.media.is_empty());
    assert!(!b.saw(|e| matches!(e, PeerEvent::TrackPublished { .. })));
}

#[test]
fn garbage_datagrams_are_counted_not_fatal() {
    let sfu = start_sfu();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    for junk in [
        &b""[..],
        &[0u8; 1],
        &[0xff; 100],
        &[0x80; 40],
        &[
            0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ][..],
    ] {
        socket.send_to(junk, sfu_addr(&sfu)).expect("send");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while sfu.stats().snapshot().datagrams_unroutable < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(sfu.stats().snapshot().datagrams_unroutable >= 4);
    // Still serving.
    let mut a = Client::new("a", join(&sfu, "room4", "alice", mic(), RoomKind::Voice));
    a.offer(&[(MediaKind::Audio, Direction::SendRecv)]);
    assert!(pump_until(&mut [&mut a], Duration::from_secs(10), |c| c[0].connected));
}

/// The mid a client was told a participant's track arrives on.
fn published_mid(c: &Client, participant: &str) -> Option<String> {
    c.events.iter().rev().find_map(|e| match e {
        PeerEvent::TrackPublished {
            participant_id,
            mid,
            ..
        } if participant_id == participant => Some(mid.clone()),
        _ => None,
    })
}

fn offers(c: &Client) -> usize {
    c.events
        .iter()
        .filter(|e| matches!(e, PeerEvent::Offer { .. }))
        .count()
}

/// A departing publisher's m-line goes idle without a renegotiation, and the next publisher
/// takes it over under the same mid, again with no offer, and is heard on it.
#[test]
fn departing_publishers_section_is_reused_without_an_offer() {
    let sfu = start_sfu();
    let mut a = Client::new("a", join(&sfu, "room5", "alice", mic(), RoomKind::Voice));
    let mut b = Client::new("b", join(&sfu, "room5", "bob", mic(), RoomKind::Voice));
    a.offer(&[(MediaKind::Audio, Direction::SendRecv)]);
    b.offer(&[(MediaKind::Audio, Direction::SendRecv)]);
    assert!(pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(10),
        |c| {
            c[0].saw(|e| matches!(e, PeerEvent::TrackPublished { .. }))
                && c.iter().all(|c| c.connected)
                && c[0].pending.is_none()
                && c[0].answers_sent.len() == offers(c[0])
        }
    ));
    let bobs_mid = published_mid(&a, "p_bob").expect("bob's mid");
    let offers_before = offers(&a);
    drop(b);
    assert!(pump_until(&mut [&mut a], Duration::from_secs(10), |c| {
        c[0].saw(|e| matches!(e, PeerEvent::TrackUnpublished { .. }))
            && c[0].saw(|e| matches!(e, PeerEvent::ParticipantLeft { .. }))
    }));
    let mut c = Client::new("c", join(&sfu, "room5", "carol", mic(), RoomKind::Voice));
    c.offer(&[(MediaKind::Audio, Direction::SendRecv)]);
    assert!(pump_until(
        &mut [&mut a, &mut c],
        Duration::from_secs(10),
        |c| { c[1].connected && published_mid(c[0], "p_carol").is_some() }
    ));
    assert_eq!(
        published_mid(&a, "p_carol"),
        Some(bobs_mid),
        "carol takes bob's m-line"
    );
    let start = Instant::now();
    for n in 0..25u64 {
        c.send_frame(n, &[0x3c; 30]);
        let until = start + Duration::from_millis(20 * (n + 1));
        pump_until(
            &mut [&mut a, &mut c],
            until.saturating_duration_since(Instant::now()),
            |_| false,
        );
    }
    assert!(
        pump_until(&mut [&mut a], Duration::from_secs(5), |c| c[0]
            .media
            .iter()
            .filter(|m| m.data.iter().all(|b| *b == 0x3c))
            .count()
            >= 15),
        "alice hears carol on the reused m-line"
    );
    assert_eq!(offers(&a), offers_before, "no renegotiation for alice");
    assert_eq!(sfu.stats().snapshot().sections_reused, 1);
}
