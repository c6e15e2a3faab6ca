//! What video rooms allow, in memory on the fake clock (`memnet`): the room's codecs, its limit
//! of video publishers, the bitrate cap per source, grants and room kinds; each refusal with its
//! code.

mod memnet;

use std::time::Duration;

use memnet::{ClientSpec, World};
use sfu::{ErrorCode, Grants, PeerEvent, RoomKind, SfuConfig, VideoCodec, VideoPolicy};
use str0m::RtcConfig;

fn config(video: VideoPolicy) -> SfuConfig {
    SfuConfig {
        video,
        ..SfuConfig::default()
    }
}

/// A VP8 frame (a keyframe: the first byte's low bit is clear).
fn frame(n: u64) -> Vec<u8> {
    let mut f = vec![(n % 200) as u8; 700];
    f[0] = 0x10;
    f
}

fn camera(name: &str, kind: RoomKind) -> ClientSpec {
    ClientSpec {
        camera: true,
        ..ClientSpec::new(name, "room", kind)
    }
}

fn refusals(world: &World, i: usize) -> Vec<ErrorCode> {
    world.clients[i]
        .events
        .iter()
        .filter_map(|e| match e {
            PeerEvent::Error { code, .. } => Some(*code),
            _ => None,
        })
        .collect()
}

fn camera_announced_to(world: &World, i: usize, publisher: &str) -> bool {
    world.clients[i].saw(|e| {
        matches!(e, PeerEvent::TrackPublished { participant_id, track, .. }
            if participant_id == &format!("p_{publisher}") && track.source == sfu::Source::Camera)
    })
}

fn settle(world: &mut World) {
    let ok = world.run_until(Duration::from_secs(10), |w| {
        w.clients.iter().all(|c| c.connected)
    });
    assert!(ok, "everyone connects");
    world.run_for(Duration::from_millis(500));
}

#[test]
fn a_codec_the_room_does_not_allow_is_refused() {
    let mut world = World::new(
        config(VideoPolicy {
            codecs: vec![VideoCodec::Vp8],
            ..VideoPolicy::default()
        }),
        21,
    );
    let h264_only = world.join_client(ClientSpec {
        config: RtcConfig::new()
            .clear_codecs()
            .enable_opus(true, false)
            .enable_h264(true),
        ..camera("cam", RoomKind::Video)
    });
    let viewer = world.join_client(ClientSpec::new("viewer", "room", RoomKind::Video));
    settle(&mut world);
    assert_eq!(
        refusals(&world, h264_only),
        vec![ErrorCode::CodecNotAllowed]
    );
    assert!(!camera_announced_to(&world, viewer, "cam"));
}

#[test]
fn the_video_publisher_limit_holds() {
    let mut world = World::new(
        config(VideoPolicy {
            max_video_publishers: 1,
            ..VideoPolicy::default()
        }),
        22,
    );
    let first = world.join_client(camera("first", RoomKind::Video));
    let viewer = world.join_client(ClientSpec::new("viewer", "room", RoomKind::Video));
    settle(&mut world);
    let second = world.join_client(camera("second", RoomKind::Video));
    settle(&mut world);
    assert!(refusals(&world, first).is_empty());
    assert_eq!(
        refusals(&world, second),
        vec![ErrorCode::VideoPublishersFull]
    );
    assert!(camera_announced_to(&world, viewer, "first"));
    assert!(!camera_announced_to(&world, viewer, "second"));
}

/// Two cameras offered before either connects both pass the offer's check; the limit holds
/// where tracks become real.
#[test]
fn the_video_publisher_limit_holds_for_simultaneous_joins() {
    let mut world = World::new(
        config(VideoPolicy {
            max_video_publishers: 1,
            ..VideoPolicy::default()
        }),
        23,
    );
    let a = world.join_client(camera("a", RoomKind::Video));
    let b = world.join_client(camera("b", RoomKind::Video));
    let viewer = world.join_client(ClientSpec::new("viewer", "room", RoomKind::Video));
    settle(&mut world);
    let refused: Vec<usize> = [a, b]
        .into_iter()
        .filter(|i| refusals(&world, *i) == vec![ErrorCode::VideoPublishersFull])
        .collect();
    assert_eq!(refused.len(), 1, "one of the two is refused");
    let announced = ["a", "b"]
        .iter()
        .filter(|n| camera_announced_to(&world, viewer, n))
        .count();
    assert_eq!(announced, 1);
}

#[test]
fn a_camera_publisher_is_told_the_rooms_bitrate_cap() {
    let mut world = World::new(
        config(VideoPolicy {
            max_camera_bitrate_bps: 300_000,
            ..VideoPolicy::default()
        }),
        24,
    );
    let cam = world.join_client(camera("cam", RoomKind::Video));
    settle(&mut world);
    let at_start = world.clients[cam].remb.len();
    assert!(at_start >= 1, "told as soon as its stream is known");
    world.film(cam, 90, frame);
    let caps: Vec<u64> = world.clients[cam]
        .remb
        .iter()
        .map(|(_, bps)| *bps)
        .collect();
    assert!(
        (at_start + 2..=at_start + 4).contains(&caps.len()),
        "told again every second of 3 s: {caps:?}"
    );
    // REMB carries an 18-bit mantissa and an exponent: the cap arrives rounded down.
    assert!(
        caps.iter().all(|bps| (299_000..=300_000).contains(bps)),
        "{caps:?}"
    );
}

#[test]
fn a_camera_without_its_grant_or_in_a_voice_room_is_refused() {
    let mut world = World::new(SfuConfig::default(), 25);
    let no_grant = world.join_client(ClientSpec {
        grants: Some(Grants {
            microphone: true,
            ..Grants::default()
        }),
        ..camera("nogrant", RoomKind::Video)
    });
    let viewer = world.join_client(ClientSpec::new("viewer", "room", RoomKind::Video));
    settle(&mut world);
    assert_eq!(
        refusals(&world, no_grant),
        vec![ErrorCode::PublishNotPermitted]
    );
    assert!(!camera_announced_to(&world, viewer, "nogrant"));

    let mut world = World::new(SfuConfig::default(), 26);
    let in_voice = world.join_client(camera("voicecam", RoomKind::Voice));
    let screen_in_voice = world.join_client(ClientSpec {
        screenshare: true,
        ..ClientSpec::new("voicescreen", "room", RoomKind::Voice)
    });
    settle(&mut world);
    assert_eq!(
        refusals(&world, in_voice),
        vec![ErrorCode::MediaSourceNotAllowed]
    );
    assert_eq!(
        refusals(&world, screen_in_voice),
        vec![ErrorCode::MediaSourceNotAllowed]
    );
}

/// A screenshare gets the screenshare cap, not the camera's.
#[test]
fn a_screenshare_is_told_the_screenshare_cap() {
    let mut world = World::new(
        config(VideoPolicy {
            max_camera_bitrate_bps: 300_000,
            max_screenshare_bitrate_bps: 1_000_000,
            ..VideoPolicy::default()
        }),
        27,
    );
    let screen = world.join_client(ClientSpec {
        screenshare: true,
        ..ClientSpec::new("screen", "room", RoomKind::Video)
    });
    let viewer = world.join_client(ClientSpec::new("viewer", "room", RoomKind::Video));
    settle(&mut world);
    assert!(world.clients[viewer].saw(|e| matches!(
        e,
        PeerEvent::TrackPublished { track, .. } if track.source == sfu::Source::Screenshare
    )));
    let caps: Vec<u64> = world.clients[screen].remb.iter().map(|(_, b)| *b).collect();
    assert!(!caps.is_empty(), "told its cap");
    assert!(
        caps.iter().all(|bps| (990_000..=1_000_000).contains(bps)),
        "{caps:?}"
    );
}
