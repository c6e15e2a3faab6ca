//! SDP offers from clients, through the worker's own negotiation: media-policy filtering
//! (`filter_offer`), str0m's `SdpOffer::from_sdp_string`, an ICE-lite `Rtc` accepting the
//! filtered offer, publishing what it allows, and the server's renegotiation offer; then
//! trickled candidates (`Candidate::from_sdp_string`).
//!
//! Input: two header bytes, then UTF-8 text split at NUL bytes: the offer, an optional second
//! offer (renegotiation), and trickled candidates. Header byte 0 picks where the newcomer joins:
//! the connected voice room as a listener (the worker also offers it the publisher's track), or
//! a room of its own (voice or video) with the grants in its high bits. Header byte 1 declares
//! up to three tracks (mids "0", "1", "2") and their sources.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use sfu::fuzzing::{Arrival, BenchRoom, OfferRules, filter_offer};
use sfu::{Grants, RoomKind, RoomPolicy, Source, TrackDeclaration};

thread_local! {
    static ROOM: RefCell<Option<BenchRoom>> = const { RefCell::new(None) };
}

const SOURCES: [Source; 4] = [
    Source::Microphone,
    Source::Camera,
    Source::Screenshare,
    Source::ScreenshareAudio,
];

fn arrival(byte: u8) -> Arrival {
    let grants = Grants {
        microphone: byte & 0x10 != 0,
        camera: byte & 0x20 != 0,
        screenshare: byte & 0x40 != 0,
        screenshare_audio: byte & 0x80 != 0,
    };
    match byte % 3 {
        0 => Arrival::ListenerInRoom,
        1 => Arrival::Alone(RoomKind::Voice, grants),
        _ => Arrival::Alone(RoomKind::Video, grants),
    }
}

fn declarations(byte: u8) -> Vec<TrackDeclaration> {
    (0..usize::from(byte & 3))
        .map(|i| TrackDeclaration {
            mid: i.to_string(),
            source: SOURCES[usize::from(byte >> (2 + 2 * i)) & 3],
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let [a, d, rest @ ..] = data else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut parts = text.split('\0');
    let offers: Vec<&str> = parts.by_ref().take(2).filter(|o| !o.is_empty()).collect();
    let candidates: Vec<&str> = parts.take(4).collect();
    let tracks = declarations(*d);

    // The filter alone, under the rules of each room kind: its verdicts name m-lines of the offer.
    if let (Some(offer), Arrival::Alone(kind, grants)) = (offers.first(), arrival(*a)) {
        let policy = RoomPolicy::for_kind(kind);
        let server_mids = Default::default();
        let rules = OfferRules {
            policy: &policy,
            grants: &grants,
            declarations: &tracks,
            server_mids: &server_mids,
            video_codecs: &sfu::VideoCodec::ALL,
            may_publish_video: true,
        };
        let filtered = filter_offer(offer, &rules);
        for line in &filtered.lines {
            assert!(offer.contains(line.mid.as_str()));
            assert!(!line.publishes || (grants.allows(line.source) && line.refusal.is_none()));
        }
    }

    ROOM.with(|room| {
        let mut room = room.borrow_mut();
        let room = room.get_or_insert_with(|| BenchRoom::new(1).expect("room connects"));
        let _events = room.newcomer_offers(arrival(*a), &offers, &tracks, &candidates);
        assert!(room.intact(), "a newcomer's offer broke the room");
    });
});
