//! m-line reuse: a long-lived participant's session holds as many m= sections as the room had
//! tracks at once, not as many as it ever had. A section whose track ended goes idle and the next
//! track of its kind takes it over under the same mid, with no new offer (`sfu/src/sections.rs`);
//! stopped slots are recycled (RFC 8829 section 5.2.2) only when a track of the other kind needs
//! one at the section cap.

mod harness;

use std::time::{Duration, Instant};

use harness::*;
use sfu::{PeerEvent, RoomKind};
use str0m::media::{Direction, MediaKind};

const ROOM: &str = "churn";
/// Publishers that come and go.
const PUBLISHERS: usize = 100;
/// Publishers in the room at once.
const AT_ONCE: usize = 3;

fn sections(sdp: &str) -> usize {
    sdp.lines().filter(|l| l.starts_with("m=")).count()
}

fn mids(sdp: &str) -> Vec<String> {
    sdp.lines()
        .filter_map(|l| l.trim().strip_prefix("a=mid:"))
        .map(str::to_string)
        .collect()
}

/// Pumps until `listener` has no server offer outstanding, answered or not, and every track
/// announcement it was sent has been offered.
fn settle(listener: &mut Client, others: &mut [Client]) {
    let mut all: Vec<&mut Client> = others.iter_mut().collect();
    all.push(listener);
    let offers = |c: &Client| c.offers_received().len();
    let mut quiet_since = Instant::now();
    let mut last = offers(all.last().expect("listener"));
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        for c in all.iter_mut() {
            c.pump();
        }
        let now = offers(all.last().expect("listener"));
        if now != last {
            last = now;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() > Duration::from_millis(60) {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("negotiation did not settle");
}

#[test]
fn a_hundred_tracks_come_and_go_on_reused_sections() {
    let sfu = start_sfu();
    let mut listener = Client::new(
        "listener",
        join(&sfu, ROOM, "listener", mic(), RoomKind::Voice),
    );
    listener.offer(&[(MediaKind::Audio, Direction::RecvOnly)]);
    assert!(pump_until(
        &mut [&mut listener],
        Duration::from_secs(10),
        |c| c[0].connected
    ));

    let mut room: Vec<Client> = Vec::new();
    // (sections, bytes) of the largest offer and answer after each publisher arrived.
    let mut largest: Vec<(usize, usize)> = Vec::new();
    for n in 0..PUBLISHERS {
        if room.len() == AT_ONCE {
            drop(room.remove(0));
            settle(&mut listener, &mut room);
        }
        let user = format!("pub{n}");
        let mut p = Client::new(&user, join(&sfu, ROOM, &user, mic(), RoomKind::Voice));
        p.offer(&[(MediaKind::Audio, Direction::SendOnly)]);
        let participant = format!("p_{user}");
        assert!(
            pump_until(&mut [&mut listener, &mut p], Duration::from_secs(10), |c| {
                c[1].connected
                    && c[0].saw(|e| {
                        matches!(e, PeerEvent::TrackPublished { participant_id, .. }
                            if *participant_id == participant)
                    })
            }),
            "publisher {n} connects and the listener is offered its track"
        );
        room.push(p);
        settle(&mut listener, &mut room);
        let offered = listener.offers_received();
        let offer = offered.last().expect("an offer");
        let answer = listener.answers_sent.last().expect("an answer");
        largest.push((
            sections(offer).max(sections(answer)),
            offer.len().max(answer.len()),
        ));
    }

    let (early_sections, early_bytes) = largest[..10]
        .iter()
        .fold((0, 0), |(s, b), (s2, b2)| (s.max(*s2), b.max(*b2)));
    let (late_sections, late_bytes) = largest[10..]
        .iter()
        .fold((0, 0), |(s, b), (s2, b2)| (s.max(*s2), b.max(*b2)));
    println!(
        "largest listener SDP: first 10 publishers {early_sections} sections / {early_bytes} \
         bytes; publishers 11-{PUBLISHERS} {late_sections} sections / {late_bytes} bytes"
    );
    assert!(
        late_sections <= early_sections,
        "sections grew: {early_sections} -> {late_sections}"
    );
    assert!(
        early_sections <= 1 + AT_ONCE,
        "the listener's own line and one per publisher present: {early_sections}"
    );
    assert!(
        late_bytes <= early_bytes,
        "bytes grew: {early_bytes} -> {late_bytes}"
    );

    // Only the first publishers needed offers; later ones took over idle sections under their
    // mids, announced by `track_published` alone.
    let offers = listener.offers_received();
    // The listener's own mid is str0m's random one (it may start with `s` too).
    let own: Vec<String> = listener
        .offers_sent
        .iter()
        .flat_map(|sdp| mids(sdp))
        .collect();
    let server_mids: std::collections::HashSet<String> = offers
        .iter()
        .flat_map(|sdp| mids(sdp))
        .filter(|m| !own.contains(m))
        .collect();
    assert!(
        server_mids.len() <= AT_ONCE,
        "one server mid per concurrent track: {server_mids:?}"
    );
    assert!(
        offers.len() <= 2 * AT_ONCE,
        "no offer per arriving publisher: {} offers for {PUBLISHERS} publishers",
        offers.len()
    );
    let published_mids: Vec<String> = listener
        .events
        .iter()
        .filter_map(|e| match e {
            PeerEvent::TrackPublished { mid, .. } => Some(mid.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        published_mids.len(),
        PUBLISHERS,
        "one announcement per track"
    );
    assert!(published_mids.iter().all(|m| server_mids.contains(m)));
    let mut last = room.pop().expect("a publisher");
    let start = Instant::now();
    for n in 0..25u64 {
        last.send_frame(n, &[0x5a; 30]);
        let until = start + Duration::from_millis(20 * (n + 1));
        let mut all: Vec<&mut Client> = room.iter_mut().collect();
        all.push(&mut last);
        all.push(&mut listener);
        pump_until(
            &mut all,
            until.saturating_duration_since(Instant::now()),
            |_| false,
        );
    }
    assert!(
        pump_until(&mut [&mut listener], Duration::from_secs(5), |c| c[0]
            .media
            .iter()
            .filter(|m| m.data.iter().all(|b| *b == 0x5a))
            .count()
            >= 15),
        "the listener hears the last publisher"
    );
}
