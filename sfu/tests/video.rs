//! Video through the engine, in memory on the fake clock (`memnet`): payload types mapped per
//! codec per subscriber, keyframe requests aggregated toward the publisher, lost packets
//! retransmitted, a subscriber without the publisher's codec told so.

mod memnet;

use std::time::Duration;

use memnet::{ClientSpec, Link, World};
use sfu::{ErrorCode, PeerEvent, RoomKind, SfuConfig};
use str0m::RtcConfig;
use str0m::format::{Codec, FormatParams};
use str0m::media::{Frequency, KeyframeRequestKind, MediaData, Mid, Pt};

/// A VP8 frame of `len` bytes: the first byte's low bit clear marks a keyframe (RFC 6386 9.1).
fn vp8_frame(n: u64, len: usize, key: bool) -> Vec<u8> {
    let mut frame = vec![(n % 251) as u8; len];
    frame[0] = if key { 0x10 } else { 0x11 };
    frame
}

/// An H.264 access unit: one IDR (type 5) or non-IDR (type 1) NAL unit in Annex B.
fn h264_frame(n: u64, len: usize, key: bool) -> Vec<u8> {
    let mut frame = vec![0, 0, 0, 1, if key { 0x65 } else { 0x41 }];
    frame.extend(std::iter::repeat_n((n % 251) as u8 | 1, len));
    frame
}

/// A client configuration with one video codec under a payload type of its own (not str0m's
/// default numbering, which the sfu uses), and Opus.
fn only(codec: Codec, pt: u8, rtx: u8) -> RtcConfig {
    let mut config = RtcConfig::new().clear_codecs().enable_opus(true, false);
    let format = match codec {
        // Constrained baseline, packetization mode 1: what browsers send first.
        Codec::H264 => FormatParams {
            level_asymmetry_allowed: Some(true),
            packetization_mode: Some(1),
            profile_level_id: Some(0x42e01f),
            ..FormatParams::default()
        },
        _ => FormatParams::default(),
    };
    config.codec_config().add_config(
        Pt::new_with_value(pt),
        Some(Pt::new_with_value(rtx)),
        codec,
        Frequency::NINETY_KHZ,
        None,
        format,
    );
    config
}

/// A camera publisher with `config` and `subscribers` receive-only clients in one video room,
/// connected and subscribed.
fn video_room(world: &mut World, config: RtcConfig, subscribers: &[(&str, Link)]) -> usize {
    let publisher = world.join_client(ClientSpec {
        camera: true,
        config,
        ..ClientSpec::new("cam", "room", RoomKind::Video)
    });
    for (name, down) in subscribers {
        world.join_client(ClientSpec {
            down: *down,
            ..ClientSpec::new(name, "room", RoomKind::Video)
        });
    }
    let ok = world.run_until(Duration::from_secs(10), |w| {
        w.clients.iter().all(|c| c.connected)
            && w.clients[publisher + 1..]
                .iter()
                .all(|c| c.saw(|e| matches!(e, PeerEvent::TrackPublished { .. })))
    });
    assert!(ok, "everyone connects and sees the camera within 10 s");
    world.run_for(Duration::from_millis(300));
    publisher
}

/// The subscriber's m-line of the camera track, as the sfu announced it.
fn camera_mid_of(events: &[PeerEvent]) -> Mid {
    events
        .iter()
        .find_map(|e| match e {
            PeerEvent::TrackPublished { track, mid, .. } if track.kind == sfu::MediaKind::Video => {
                Some(Mid::from(mid.as_str()))
            }
            _ => None,
        })
        .expect("a camera track announced")
}

fn received_codec(media: &[&MediaData]) -> Vec<Codec> {
    let mut codecs: Vec<Codec> = media.iter().map(|m| m.params.spec().codec).collect();
    codecs.dedup();
    codecs
}

#[test]
fn each_codec_reaches_a_subscriber_under_its_own_payload_type() {
    for (codec, frame) in [
        (Codec::Vp8, vp8_frame as fn(u64, usize, bool) -> Vec<u8>),
        (Codec::H264, h264_frame),
    ] {
        let mut world = World::new(SfuConfig::default(), 11);
        let publisher = video_room(&mut world, only(codec, 120, 121), &[("sub", Link::clean())]);
        world.film(publisher, 30, |n| frame(n, 800, n % 10 == 0));
        world.run_for(Duration::from_millis(200));
        let sub = &world.clients[publisher + 1];
        let video: Vec<&MediaData> = sub
            .media
            .iter()
            .filter(|m| m.params.spec().clock_rate == Frequency::NINETY_KHZ)
            .collect();
        assert!(
            video.len() >= 29,
            "{codec:?}: {} of 30 frames decoded",
            video.len()
        );
        let pts: Vec<Pt> = video.iter().map(|m| m.pt).collect();
        assert!(
            pts.iter().all(|pt| *pt != Pt::new_with_value(120)),
            "{codec:?}: the publisher's payload type is not the subscriber's"
        );
        assert_eq!(received_codec(&video), vec![codec], "{codec:?}");
        assert_eq!(world.stats().packets_dropped_codec, 0);
    }
}

#[test]
fn keyframe_requests_reach_the_publisher_at_most_once_per_interval() {
    let config = SfuConfig::default();
    let interval = config.keyframe_request_interval;
    let mut world = World::new(config, 12);
    let subs = [
        ("a", Link::clean()),
        ("b", Link::clean()),
        ("c", Link::clean()),
    ];
    let publisher = video_room(&mut world, only(Codec::Vp8, 100, 101), &subs);
    // Media flows, and the subscribers' own first requests (a new route asks for a keyframe)
    // are through.
    world.film(publisher, 30, |n| vp8_frame(n, 600, n == 0));
    world.run_for(interval * 2);
    let before = world.clients[publisher].keyframe_requests.len();
    let received_before = world.stats().keyframe_requests_received;
    for sub in publisher + 1..=publisher + 3 {
        let c = &mut world.clients[sub];
        let mid = camera_mid_of(&c.events);
        c.rtc
            .writer(mid)
            .expect("writer")
            .request_keyframe(None, KeyframeRequestKind::Pli)
            .expect("a PLI");
    }
    world.run_for(interval / 5);
    let now_count = world.clients[publisher].keyframe_requests.len() - before;
    assert_eq!(
        now_count, 1,
        "three requests at once reach the publisher as one"
    );
    world.run_for(interval * 3);
    let total = world.clients[publisher].keyframe_requests.len() - before;
    assert_eq!(
        total, 2,
        "the held ones follow once, when the interval ends"
    );
    assert_eq!(
        world.stats().keyframe_requests_received - received_before,
        3
    );
}

#[test]
fn a_new_video_subscriber_asks_the_publisher_for_a_keyframe() {
    let mut world = World::new(SfuConfig::default(), 13);
    let publisher = video_room(&mut world, only(Codec::Vp8, 96, 97), &[]);
    world.film(publisher, 60, |n| vp8_frame(n, 600, n == 0));
    let before = world.clients[publisher].keyframe_requests.len();
    let late = world.join_client(ClientSpec::new("late", "room", RoomKind::Video));
    let asked = world.run_until(Duration::from_secs(5), |w| {
        w.clients[late].connected && w.clients[publisher].keyframe_requests.len() > before
    });
    assert!(
        asked,
        "the publisher is asked for a keyframe for the late subscriber"
    );
}

/// Frames of three packets each over a downlink that loses 5% of datagrams: without repair
/// about 14% of frames would be incomplete; NACK and RTX bring nearly all of them back.
#[test]
fn lost_video_packets_are_retransmitted() {
    let lossy = Link {
        loss: 0.05,
        delay: Duration::from_millis(20),
        ..Link::default()
    };
    let mut world = World::new(SfuConfig::default(), 14);
    let publisher = video_room(&mut world, only(Codec::Vp8, 96, 97), &[("sub", lossy)]);
    let frames = 150;
    world.film(publisher, frames, |n| vp8_frame(n, 3000, n % 30 == 0));
    world.run_for(Duration::from_secs(1));
    let sub = &world.clients[publisher + 1];
    let complete: Vec<&MediaData> = sub
        .media
        .iter()
        .filter(|m| m.params.spec().codec == Codec::Vp8 && m.data.len() == 3000)
        .collect();
    assert!(
        complete.len() as u64 >= frames - 2,
        "{} of {frames} frames complete",
        complete.len()
    );
}

#[test]
fn a_subscriber_without_the_codec_is_told_and_gets_nothing() {
    let mut world = World::new(SfuConfig::default(), 15);
    let publisher = world.join_client(ClientSpec {
        camera: true,
        config: only(Codec::H264, 102, 103),
        ..ClientSpec::new("cam", "room", RoomKind::Video)
    });
    let vp8_only = world.join_client(ClientSpec {
        config: only(Codec::Vp8, 96, 97),
        ..ClientSpec::new("old", "room", RoomKind::Video)
    });
    let ok = world.run_until(Duration::from_secs(10), |w| {
        w.clients.iter().all(|c| c.connected)
            && w.clients[vp8_only].saw(|e| matches!(e, PeerEvent::TrackPublished { .. }))
    });
    assert!(ok, "both connect");
    world.run_for(Duration::from_millis(300));
    world.film(publisher, 15, |n| h264_frame(n, 500, n == 0));
    world.run_for(Duration::from_millis(200));
    let c = &world.clients[vp8_only];
    assert!(
        c.media
            .iter()
            .all(|m| m.params.spec().codec != Codec::H264 && m.params.spec().codec != Codec::Vp8),
        "nothing of the H.264 track arrives"
    );
    let told = c
        .events
        .iter()
        .filter(|e| {
            matches!(
                e,
                PeerEvent::Error {
                    code: ErrorCode::CodecUnsupported,
                    fatal: false,
                    ..
                }
            )
        })
        .count();
    assert_eq!(told, 1, "told once");
    assert!(world.stats().packets_dropped_codec >= 15);
}

/// A client that takes no video at all (an audio-only stack) in a video room: it rejects the
/// camera's m-line in its answer, stays in the room, and still hears the microphone.
#[test]
fn an_audio_only_client_in_a_video_room_keeps_its_audio() {
    let mut world = World::new(SfuConfig::default(), 16);
    let publisher = world.join_client(ClientSpec {
        camera: true,
        microphone: true,
        ..ClientSpec::new("cam", "room", RoomKind::Video)
    });
    let audio_only = world.join_client(ClientSpec {
        config: RtcConfig::new().clear_codecs().enable_opus(true, false),
        ..ClientSpec::new("phone", "room", RoomKind::Video)
    });
    let ok = world.run_until(Duration::from_secs(10), |w| {
        w.clients.iter().all(|c| c.connected)
            && w.clients[audio_only]
                .events
                .iter()
                .filter(|e| matches!(e, PeerEvent::TrackPublished { .. }))
                .count()
                == 2
    });
    assert!(ok, "both connect; the phone is told of both tracks");
    world.run_for(Duration::from_millis(500));
    for n in 0..50 {
        world.send_frame(publisher, n, &[0x42; 60]);
        world.send_video_frame(publisher, n, &vp8_frame(n, 500, n == 0));
        world.run_for(Duration::from_millis(20));
    }
    world.run_for(Duration::from_millis(200));
    let c = &world.clients[audio_only];
    assert_eq!(c.fatal(), None, "not ended: {:?}", c.events);
    let heard = c
        .media
        .iter()
        .filter(|m| m.params.spec().codec == Codec::Opus)
        .count();
    assert!(heard >= 45, "heard {heard} of 50 audio frames");
    assert!(c.media.iter().all(|m| m.params.spec().codec == Codec::Opus));
}
