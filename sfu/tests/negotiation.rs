//! Negotiations that cannot complete end the peer with a fatal code; glare and rejected m-lines
//! behave as documented. (An unanswered offer timing out is tested on the fake clock:
//! `fake_clock.rs`.)

mod harness;

use std::time::Duration;

use harness::*;
use sfu::{ErrorCode, LeaveReason, PeerEvent, RoomKind, Sfu, SfuConfig};
use str0m::media::{Direction, MediaKind};

fn sfu_with_negotiation_timeout(secs: u64) -> Sfu {
    Sfu::start(SfuConfig {
        negotiation_timeout: Duration::from_secs(secs),
        ..SfuConfig::default()
    })
    .expect("sfu")
}

/// A listener `l` that does not answer server offers, and a publisher `p` whose track makes
/// the server offer to `l`. Returns once `l` has received that offer.
fn listener_with_an_offer_outstanding(sfu: &Sfu, room: &str) -> (Client, Client) {
    let mut l = Client::new("l", join(sfu, room, "lena", mic(), RoomKind::Voice));
    l.offer(&[(MediaKind::Audio, Direction::RecvOnly)]);
    assert!(pump_until(&mut [&mut l], Duration::from_secs(10), |c| c[0].connected));
    l.answer_offers = false;
    let mut p = Client::new("p", join(sfu, room, "paul", mic(), RoomKind::Voice));
    p.offer(&[(MediaKind::Audio, Direction::SendOnly)]);
    assert!(pump_until(
        &mut [&mut l, &mut p],
        Duration::from_secs(10),
        |c| !c[0].offers_received().is_empty()
    ));
    (l, p)
}

fn left_for_failure(c: &Client) -> bool {
    c.saw(|e| {
        matches!(
            e,
            PeerEvent::ParticipantLeft {
                reason: LeaveReason::Failed,
                ..
            }
        )
    })
}

#[test]
fn an_answer_that_is_not_sdp_ends_the_peer() {
    let sfu = sfu_with_negotiation_timeout(10);
    let (mut l, mut p) = listener_with_an_offer_outstanding(&sfu, "t2");
    l.handle
        .answer("v=0\r\nthis is not sdp\r\n".into())
        .expect("sent");
    assert!(pump_until(
        &mut [&mut l, &mut p],
        Duration::from_secs(5),
        |c| c[0].fatal_error().is_some() && left_for_failure(c[1])
    ));
    assert_eq!(
        l.fatal_error(),
        Some((
            ErrorCode::NegotiationFailed,
            "the answer is not valid SDP".into()
        ))
    );
}

#[test]
fn an_answer_above_the_room_limit_ends_the_peer() {
    let sfu = sfu_with_negotiation_timeout(10);
    let (mut l, mut p) = listener_with_an_offer_outstanding(&sfu, "t3");
    let limit = sfu::RoomPolicy::for_kind(RoomKind::Voice).max_sdp_bytes();
    let huge = format!("v=0\r\n{}", "a=x\r\n".repeat(limit / 5 + 1));
    l.handle.answer(huge).expect("sent");
    assert!(pump_until(
        &mut [&mut l, &mut p],
        Duration::from_secs(5),
        |c| c[0].fatal_error().is_some()
    ));
    let (code, message) = l.fatal_error().expect("fatal");
    assert_eq!(code, ErrorCode::NegotiationFailed);
    assert!(
        message.contains(&format!("at most {limit} bytes")),
        "{message}"
    );
}

#[test]
fn offers_that_keep_crossing_the_servers_end_the_peer() {
    let sfu = sfu_with_negotiation_timeout(10);
    let (mut l, mut p) = listener_with_an_offer_outstanding(&sfu, "t4");
    let offer = l.offers_sent[0].clone();
    for _ in 0..9 {
        l.offer_raw(offer.clone());
    }
    assert!(pump_until(
        &mut [&mut l, &mut p],
        Duration::from_secs(5),
        |c| c[0].fatal_error().is_some()
    ));
    let glares = l
        .events
        .iter()
        .filter(|e| {
            matches!(
                e,
                PeerEvent::Error {
                    code: ErrorCode::NegotiationGlare,
                    fatal: false,
                    ..
                }
            )
        })
        .count();
    assert_eq!(glares, 8);
    assert_eq!(
        l.fatal_error().map(|(c, _)| c),
        Some(ErrorCode::NegotiationFailed)
    );
}

#[test]
fn after_glare_the_server_waits_for_the_clients_offer() {
    let sfu = sfu_with_negotiation_timeout(10);
    let (mut l, mut p) = listener_with_an_offer_outstanding(&sfu, "t5");
    // The client offers over the server's offer, is refused, answers, then offers again.
    let offer = l.offers_sent[0].clone();
    l.offer_raw(offer);
    assert!(pump_until(
        &mut [&mut l, &mut p],
        Duration::from_secs(5),
        |c| c[0].saw(|e| matches!(
            e,
            PeerEvent::Error {
                code: ErrorCode::NegotiationGlare,
                ..
            }
        ))
    ));
    // Meanwhile another track arrives: the server must not offer it before the client's offer.
    let mut q = Client::new("q", join(&sfu, "t5", "quinn", mic(), RoomKind::Voice));
    q.offer(&[(MediaKind::Audio, Direction::SendOnly)]);
    assert!(pump_until(
        &mut [&mut l, &mut p, &mut q],
        Duration::from_secs(10),
        |c| c[2].connected
    ));
    l.answer_offers = true;
    let pending = l.offers_received()[0].to_string();
    let offer = str0m::change::SdpOffer::from_sdp_string(&pending).expect("offer");
    let answer = l.rtc.sdp_api().accept_offer(offer).expect("answer");
    l.handle.answer(answer.to_sdp_string()).expect("sent");
    let offers_before = l.offers_received().len();
    pump_until(
        &mut [&mut l, &mut p, &mut q],
        Duration::from_millis(300),
        |_| false,
    );
    assert_eq!(
        l.offers_received().len(),
        offers_before,
        "no server offer while the client's is expected"
    );
    l.offer(&[(MediaKind::Audio, Direction::RecvOnly)]);
    assert!(
        pump_until(&mut [&mut l, &mut p, &mut q], Duration::from_secs(5), |c| c
            [0]
        .offers_received()
        .len()
            > offers_before),
        "the server offers the waiting track after the client's offer"
    );
    assert!(l.fatal_error().is_none());
    let answers = l
        .events
        .iter()
        .filter(|e| matches!(e, PeerEvent::Answer { .. }))
        .count();
    assert_eq!(answers, 2, "both client offers were answered");
}

#[test]
fn a_rejected_video_line_echoes_the_offered_format() {
    let sfu = start_sfu();
    let mut a = Client::new("a", join(&sfu, "t6", "alice", mic(), RoomKind::Voice));
    a.offer(&[
        (MediaKind::Audio, Direction::SendRecv),
        (MediaKind::Video, Direction::SendRecv),
    ]);
    assert!(pump_until(&mut [&mut a], Duration::from_secs(10), |c| c[0].connected));
    let offer = a.offers_sent[0].clone();
    let video = &offer[offer.find("m=video").expect("video offered")..];
    let pt = video
        .lines()
        .next()
        .and_then(|l| l.split(' ').nth(3))
        .expect("a payload type");
    let rtpmap = video
        .lines()
        .find(|l| l.starts_with(&format!("a=rtpmap:{pt} ")))
        .expect("its rtpmap");
    let answer = a
        .events
        .iter()
        .find_map(|e| match e {
            PeerEvent::Answer { sdp } => Some(sdp.clone()),
            _ => None,
        })
        .expect("answered");
    let rejected = &answer[answer.find("m=video").expect("video answered")..];
    assert!(
        rejected.starts_with(&format!("m=video 0 UDP/TLS/RTP/SAVPF {pt}\r\n")),
        "rejected with the offered payload type:\n{answer}"
    );
    assert!(
        rejected.lines().any(|l| l == rtpmap),
        "and its rtpmap {rtpmap}:\n{answer}"
    );
    // The server's later offers keep writing it so.
    let mut b = Client::new("b", join(&sfu, "t6", "bob", mic(), RoomKind::Voice));
    b.offer(&[(MediaKind::Audio, Direction::SendOnly)]);
    assert!(pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(10),
        |c| !c[0].offers_received().is_empty()
    ));
    let reoffer = a.offers_received()[0].to_string();
    let stopped = &reoffer[reoffer.find("m=video").expect("video still there")..];
    assert!(
        stopped.starts_with(&format!("m=video 0 UDP/TLS/RTP/SAVPF {pt}\r\n")),
        "{reoffer}"
    );
    assert!(stopped.lines().any(|l| l == rtpmap), "{reoffer}");
    assert!(a.fatal_error().is_none());
}

fn sections_of(sdp: &str) -> Vec<String> {
    sdp.lines()
        .filter(|l| l.starts_with("m="))
        .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
        .collect()
}

fn join_small_room(sfu: &Sfu, user: &str) -> sfu::PeerHandle {
    let mut policy = sfu::RoomPolicy::for_kind(RoomKind::Voice);
    policy.max_participants = 2;
    sfu.join(sfu::JoinRequest {
        room: sfu::RoomId("small".into()),
        policy,
        participant: sfu::ParticipantInfo {
            participant_id: format!("p_{user}"),
            user_id: user.into(),
            device_id: "d".into(),
        },
        grants: mic(),
    })
    .expect("join")
}

#[test]
fn a_rejected_video_slot_is_recycled_for_audio_only_at_the_cap() {
    let sfu = start_sfu();
    // Below the cap: bob's microphone gets a new m-line, the rejected video line stays.
    let mut a = Client::new("a", join(&sfu, "t7", "alice", mic(), RoomKind::Voice));
    a.offer(&[
        (MediaKind::Audio, Direction::RecvOnly),
        (MediaKind::Video, Direction::SendRecv),
    ]);
    assert!(pump_until(&mut [&mut a], Duration::from_secs(10), |c| c[0].connected));
    let mut b = Client::new("b", join(&sfu, "t7", "bob", mic(), RoomKind::Voice));
    b.offer(&[(MediaKind::Audio, Direction::SendOnly)]);
    assert!(pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(10),
        |c| !c[0].offers_received().is_empty()
    ));
    assert_eq!(
        sections_of(a.offers_received()[0]),
        ["m=audio 9", "m=video 0", "m=audio 9"]
    );

    // At the cap (2 participants x 1 source + 4 spare = 6 m-lines, all of them alice's own),
    // bob's microphone takes a rejected video slot.
    let mut a = Client::new("a", join_small_room(&sfu, "alice"));
    a.offer(&[
        (MediaKind::Audio, Direction::RecvOnly),
        (MediaKind::Video, Direction::SendRecv),
        (MediaKind::Video, Direction::SendRecv),
        (MediaKind::Video, Direction::SendRecv),
        (MediaKind::Video, Direction::SendRecv),
        (MediaKind::Video, Direction::SendRecv),
    ]);
    assert!(
        pump_until(&mut [&mut a], Duration::from_secs(10), |c| c[0].connected),
        "{:?}",
        a.events
    );
    let mut b = Client::new("b", join_small_room(&sfu, "bob"));
    b.offer(&[(MediaKind::Audio, Direction::SendOnly)]);
    assert!(pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(10),
        |c| !c[0].offers_received().is_empty()
    ));
    assert_eq!(
        sections_of(a.offers_received()[0]),
        [
            "m=audio 9",
            "m=audio 9",
            "m=video 0",
            "m=video 0",
            "m=video 0",
            "m=video 0"
        ]
    );
    assert!(a.fatal_error().is_none());
}
