//! DTLS failures are said on the wire, and nobody sees a publisher whose media never connects:
//! a client whose certificate does not match its `a=fingerprint` gets fatal `dtls_failed`; a
//! client that never connects is removed with `connect_timeout` within the bound; neither is ever
//! announced as publishing.

mod harness;

use std::time::{Duration, Instant};

use harness::*;
use sfu::{DtlsFailureReason, ErrorCode, LeaveReason, PeerEvent, RoomKind, Sfu, SfuConfig};
use str0m::media::{Direction, MediaKind};

const AUDIO: &[(MediaKind, Direction)] = &[(MediaKind::Audio, Direction::SendRecv)];

/// Replaces the first byte of every `a=fingerprint` hash with another value: a well-formed
/// fingerprint of some other certificate.
fn wrong_fingerprint(sdp: String) -> String {
    sdp.lines()
        .map(|line| match line.strip_prefix("a=fingerprint:sha-256 ") {
            Some(hash) => {
                let other = if hash.starts_with("00") { "11" } else { "00" };
                format!("a=fingerprint:sha-256 {other}{}\r\n", &hash[2..])
            }
            None => format!("{line}\r\n"),
        })
        .collect()
}

fn fatal_error(client: &Client) -> Option<(ErrorCode, String)> {
    client.events.iter().find_map(|e| match e {
        PeerEvent::Error {
            code,
            message,
            fatal: true,
        } => Some((*code, message.clone())),
        _ => None,
    })
}

fn left(client: &Client, participant: &str) -> Option<LeaveReason> {
    client.events.iter().find_map(|e| match e {
        PeerEvent::ParticipantLeft {
            participant_id,
            reason,
        } if participant_id == participant => Some(*reason),
        _ => None,
    })
}

#[test]
fn wrong_fingerprint_is_fatal_dtls_failed_and_never_published() {
    let sfu = start_sfu();
    let mut alice = Client::new("a", join(&sfu, "fp", "alice", mic(), RoomKind::Voice));
    alice.offer(AUDIO);
    assert!(pump_until(
        &mut [&mut alice],
        Duration::from_secs(10),
        |c| c[0].connected
    ));

    let mut mallory = Client::new("m", join(&sfu, "fp", "mallory", mic(), RoomKind::Voice));
    mallory.offer_edited(AUDIO, wrong_fingerprint);
    assert!(
        pump_until(
            &mut [&mut alice, &mut mallory],
            Duration::from_secs(10),
            |c| { fatal_error(c[1]).is_some() && left(c[0], "p_mallory").is_some() }
        ),
        "mallory saw {:?}",
        mallory.events
    );

    let (code, message) = fatal_error(&mallory).expect("fatal error");
    assert_eq!(code, ErrorCode::DtlsFailed);
    assert_eq!(code.as_str(), "dtls_failed");
    assert!(message.contains("a=fingerprint"), "{message}");
    assert!(mallory.saw(|e| matches!(
        e,
        PeerEvent::Closed {
            reason: LeaveReason::Failed
        }
    )));
    assert!(!mallory.connected, "mallory's media never connects");
    assert_eq!(left(&alice, "p_mallory"), Some(LeaveReason::Failed));
    assert!(!alice.saw_track_of("p_mallory"), "{:?}", alice.events);

    let stats = sfu.stats().snapshot();
    let by_reason: Vec<_> = stats.dtls_failures_by_reason().collect();
    assert!(by_reason.contains(&(DtlsFailureReason::FingerprintMismatch.as_str(), 1)));
    assert_eq!(stats.dtls_failures.iter().sum::<u64>(), 1);
    // The peer gauge is refreshed by the worker's housekeeping (every 100 ms).
    assert!(pump_until(
        &mut [&mut alice],
        Duration::from_secs(2),
        |_| sfu.stats().snapshot().peers == 1
    ));
}

#[test]
fn peer_that_never_connects_is_removed_within_the_bound_and_never_announced() {
    let bound = Duration::from_secs(2);
    let sfu = Sfu::start(SfuConfig {
        connect_timeout: bound,
        peer_timeout: Duration::from_secs(10),
        ..SfuConfig::default()
    })
    .expect("sfu");
    let mut alice = Client::new("a", join(&sfu, "ghosts", "alice", mic(), RoomKind::Voice));
    alice.offer(AUDIO);
    assert!(pump_until(
        &mut [&mut alice],
        Duration::from_secs(10),
        |c| c[0].connected
    ));

    // The ghost offers to publish, then never sends a packet (its network is never pumped).
    let joined = Instant::now();
    let mut ghost = Client::new("g", join(&sfu, "ghosts", "ghost", mic(), RoomKind::Voice));
    ghost.offer(AUDIO);
    // A late joiner while the ghost is in the room sees it without tracks.
    let mut carol = Client::new("c", join(&sfu, "ghosts", "carol", mic(), RoomKind::Voice));
    carol.offer(AUDIO);

    assert!(
        pump_until(
            &mut [&mut alice, &mut carol],
            Duration::from_secs(10),
            |c| { left(c[0], "p_ghost").is_some() }
        ),
        "alice saw {:?}",
        alice.events
    );
    let removed_after = joined.elapsed();
    // Housekeeping runs every 100 ms.
    assert!(
        removed_after >= bound && removed_after < bound + Duration::from_secs(1),
        "removed after {removed_after:?}, bound {bound:?}"
    );
    assert_eq!(left(&alice, "p_ghost"), Some(LeaveReason::Timeout));

    ghost.take_events();
    let (code, message) = fatal_error(&ghost).expect("fatal error");
    assert_eq!(code, ErrorCode::ConnectTimeout);
    assert!(message.contains("no ICE check reached"), "{message}");
    assert!(ghost.saw(|e| matches!(
        e,
        PeerEvent::Closed {
            reason: LeaveReason::Timeout
        }
    )));

    assert!(pump_until(
        &mut [&mut alice, &mut carol],
        Duration::from_secs(10),
        |c| { c[0].saw_track_of("p_carol") && c[1].saw_track_of("p_alice") }
    ));
    assert!(!alice.saw_track_of("p_ghost"), "{:?}", alice.events);
    assert!(!carol.saw_track_of("p_ghost"), "{:?}", carol.events);
    let stats = sfu.stats().snapshot();
    assert_eq!(stats.connect_timeouts, 1, "{stats:?}");
    assert_eq!(stats.dtls_failures.iter().sum::<u64>(), 0);
}
