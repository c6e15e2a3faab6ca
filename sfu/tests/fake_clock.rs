//! The engine driven in memory on a fake clock (`memnet`): behaviour that takes real seconds on
//! UDP takes milliseconds here, and an emulated network makes loss and jitter reproducible.

mod memnet;

use std::time::{Duration, Instant};

use memnet::{Link, World, connected_pair};
use sfu::{LeaveReason, PeerEvent, RoomKind, SfuConfig, Source};

/// A 20 ms Opus frame's worth of bytes.
const FRAME: [u8; 60] = [0x42; 60];

#[test]
fn a_listener_hears_the_publisher() {
    let mut world = World::new(SfuConfig::default(), 1);
    let (publisher, listener) = connected_pair(&mut world, Link::clean(), false);
    world.talk(publisher, Duration::from_secs(2), &FRAME);
    world.run_for(Duration::from_millis(100));
    let heard = world.clients[listener]
        .media
        .iter()
        .filter(|m| m.data.iter().all(|b| *b == 0x42))
        .count();
    assert!(heard >= 95, "heard {heard} of 100 frames");
    assert_eq!(world.stats().packets_forwarded, world.stats().packets_in);
}

/// A publisher that vanishes without a word is dropped after `peer_timeout` (30 s by default) of
/// silence, and the others learn it left with `timeout`: thirty seconds of fake time, a few
/// milliseconds of real time, no sleep.
#[test]
fn a_vanished_peer_is_dropped_after_the_peer_timeout() {
    let wall = Instant::now();
    let mut world = World::new(SfuConfig::default(), 2);
    let (publisher, listener) = connected_pair(&mut world, Link::clean(), false);
    let vanished_at = world.now;
    world.clients[publisher].silent = true;
    let left = world.run_until(Duration::from_secs(120), |w| {
        w.clients[listener].saw(|e| {
            matches!(
                e,
                PeerEvent::ParticipantLeft {
                    reason: LeaveReason::Timeout,
                    ..
                }
            )
        })
    });
    assert!(left, "the listener is told the publisher left");
    let after = world.now - vanished_at;
    let timeout = SfuConfig::default().peer_timeout;
    assert!(
        after + Duration::from_secs(1) >= timeout && after <= timeout + Duration::from_secs(1),
        "dropped {after:?} after it fell silent (peer_timeout {timeout:?}, counted from its last \
         packet)"
    );
    assert_eq!(
        world.clients[publisher].fatal(),
        Some(sfu::ErrorCode::Timeout)
    );
    assert!(world.clients[publisher].saw(|e| matches!(
        e,
        PeerEvent::Closed {
            reason: LeaveReason::Timeout
        }
    )));
    world.run_for(Duration::from_millis(200));
    assert_eq!(world.stats().peers, 1, "the listener is left");
    eprintln!(
        "{after:?} of fake time to the timeout took {:?} of wall time",
        wall.elapsed()
    );
}

/// Received RTP sequence numbers of the listener, relative to the first one received (each
/// outgoing stream starts at a random sequence number), for the loss test.
fn listener_run(seed: u64) -> (Vec<u16>, u64, u64) {
    let lossy = Link {
        loss: 0.05,
        delay: Duration::from_millis(20),
        jitter: Duration::from_millis(50),
        bandwidth_bps: None,
    };
    let mut world = World::new(SfuConfig::default(), seed);
    let (publisher, listener) = connected_pair(&mut world, lossy, true);
    world.talk(publisher, Duration::from_secs(20), &FRAME);
    world.run_for(Duration::from_millis(200));
    let seqs: Vec<u16> = world.clients[listener]
        .rtp
        .iter()
        .filter(|p| p.payload.iter().all(|b| *b == 0x42))
        .map(|p| *p.seq_no as u16)
        .collect();
    let first = seqs.first().copied().unwrap_or(0);
    let seqs = seqs.iter().map(|s| s.wrapping_sub(first)).collect();
    let stats = world.stats();
    (seqs, stats.packets_in, stats.packets_forwarded)
}

/// A subscriber downlink with 5% loss, 20 ms delay and 50 ms jitter: about 5% of the forwarded
/// packets never arrive, many arrive out of order, and the same seed gives the same run.
#[test]
fn a_lossy_jittery_downlink_is_reproducible() {
    let (seqs, packets_in, forwarded) = listener_run(7);
    assert_eq!(
        packets_in, 1000,
        "the publisher's 1000 frames reach the sfu"
    );
    assert_eq!(
        forwarded, packets_in,
        "each is forwarded to the one listener"
    );
    let received = seqs.len() as f64;
    let loss = 1.0 - received / forwarded as f64;
    assert!(
        (0.02..=0.09).contains(&loss),
        "loss {:.1}% on a 5% link ({received} of {forwarded})",
        loss * 100.0
    );
    let reordered = seqs
        .windows(2)
        .filter(|w| w[1].wrapping_sub(w[0]) > 0x8000)
        .count();
    assert!(
        reordered > 50,
        "50 ms of jitter on 20 ms packets reorders: {reordered}"
    );
    let again = listener_run(7);
    assert_eq!(again.0, seqs, "same seed, same arrivals in the same order");
    let other = listener_run(8);
    assert_ne!(other.0, seqs, "another seed, another run");
    eprintln!(
        "received {received} of {forwarded} ({:.1}% lost), {reordered} out of order",
        loss * 100.0
    );
}

/// What a late joiner learns about the room: who is there, what they publish, who is speaking
/// and what they muted.
#[test]
fn a_late_joiner_learns_who_speaks_and_what_is_muted() {
    let mut world = World::new(SfuConfig::default(), 3);
    let alice = world.join("alice", "room", RoomKind::Voice, true);
    let bob = world.join("bob", "room", RoomKind::Voice, true);
    let published =
        |w: &World, i: usize| w.clients[i].saw(|e| matches!(e, PeerEvent::TrackPublished { .. }));
    assert!(world.run_until(Duration::from_secs(10), |w| {
        w.clients.iter().all(|c| c.connected) && published(w, alice) && published(w, bob)
    }));
    let bob_peer = world.clients[bob].peer;
    world.rooms(|r| r.set_muted(bob_peer, Source::Microphone, true));
    // Alice talks (loud RFC 6464 levels) until Bob hears that she speaks.
    let speaking = |w: &World| {
        w.clients[bob].saw(|e| {
            matches!(e, PeerEvent::Speaking { participant_id, speaking: true, .. }
                if participant_id == "p_alice")
        })
    };
    let mut n = 0u64;
    let start = world.now;
    while !speaking(&world) {
        assert!(
            world.now - start < Duration::from_secs(10),
            "bob hears alice speak"
        );
        world.send_frame_at_level(alice, n, &[0x11; 40], Some(20));
        n += 1;
        world.run_for(Duration::from_millis(20));
    }
    // Carol joins while Alice still talks.
    let carol = world.join("carol", "room", RoomKind::Voice, true);
    let joined = loop {
        world.send_frame_at_level(alice, n, &[0x11; 40], Some(20));
        n += 1;
        world.run_for(Duration::from_millis(20));
        if let Some(participants) = world.clients[carol].events.iter().find_map(|e| match e {
            PeerEvent::Joined { participants } => Some(participants.clone()),
            _ => None,
        }) {
            break participants;
        }
        assert!(world.now - start < Duration::from_secs(20), "carol joins");
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
        !bob.tracks.is_empty() && bob.tracks.iter().all(|t| t.muted),
        "bob's microphone track is muted: {bob:?}"
    );
}

/// A listener that never answers the server's offer of a new track is ended with
/// `negotiation_timeout` once `negotiation_timeout` has passed, and the others are told it left
/// for failure.
#[test]
fn an_unanswered_offer_ends_the_peer_with_negotiation_timeout() {
    let config = SfuConfig::default();
    let timeout = config.negotiation_timeout;
    let mut world = World::new(config, 4);
    let listener = world.join("lena", "room", RoomKind::Voice, false);
    assert!(world.run_until(Duration::from_secs(10), |w| w.clients[listener].connected));
    world.clients[listener].answer_offers = false;
    let publisher = world.join("paul", "room", RoomKind::Voice, true);
    assert!(world.run_until(Duration::from_secs(10), |w| {
        !w.clients[listener].offers.is_empty()
    }));
    let offered_at = world.now;
    let left_for_failure = |w: &World| {
        w.clients[publisher].saw(|e| {
            matches!(
                e,
                PeerEvent::ParticipantLeft {
                    reason: LeaveReason::Failed,
                    ..
                }
            )
        })
    };
    assert!(world.run_until(timeout * 2, left_for_failure));
    let waited = world.now - offered_at;
    assert!(
        waited >= timeout && waited <= timeout + Duration::from_millis(500),
        "ended {waited:?} after the offer (negotiation_timeout {timeout:?})"
    );
    assert_eq!(
        world.clients[listener].fatal(),
        Some(sfu::ErrorCode::NegotiationTimeout)
    );
    let message = world.clients[listener].events.iter().find_map(|e| match e {
        PeerEvent::Error { message, .. } => Some(message.clone()),
        _ => None,
    });
    assert_eq!(
        message.as_deref(),
        Some(
            format!(
                "no answer to the server's offer within {} s",
                timeout.as_secs()
            )
            .as_str()
        )
    );
    assert!(world.clients[listener].saw(|e| matches!(
        e,
        PeerEvent::Closed {
            reason: LeaveReason::Failed
        }
    )));
    assert_eq!(world.stats().negotiations_failed, 1);
}
