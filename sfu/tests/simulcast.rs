//! Simulcast through the engine, in memory on the fake clock (`memnet`): a subscriber receives
//! one layer of a three-layer camera, switches on the new layer's keyframe only (asked for at
//! once), and its stream stays one stream across the switch (no sequence gap, no reordering).

mod memnet;

use std::time::Duration;

use memnet::{ClientSpec, World};
use sfu::engine::Command;
use sfu::{PeerEvent, RoomKind, SfuConfig, TrackView};
use str0m::media::Rid;

const RIDS: [&str; 3] = ["q", "h", "f"];
/// Frame size per layer: a received frame's length tells its layer.
const SIZES: [usize; 3] = [300, 600, 1000];
/// Every layer sends a keyframe every this many frames.
const GOP: u64 = 15;

fn layer_frame(layer: usize, n: u64) -> Vec<u8> {
    let mut f = vec![(n % 200) as u8 | 0x01; SIZES[layer]];
    // VP8: the first byte's low bit clear marks a keyframe.
    f[0] = if n.is_multiple_of(GOP) { 0x10 } else { 0x11 };
    f
}

fn layer_of_size(len: usize) -> Option<usize> {
    SIZES.iter().position(|s| *s == len)
}

struct Call {
    world: World,
    publisher: usize,
    sub: usize,
    frame: u64,
}

impl Call {
    fn new(seed: u64, rtp_mode: bool) -> Call {
        Call::with_downlink(seed, rtp_mode, memnet::Link::clean())
    }

    /// A call whose subscriber receives over `down`.
    fn with_downlink(seed: u64, rtp_mode: bool, down: memnet::Link) -> Call {
        Call::build(seed, rtp_mode, down, SfuConfig::default())
    }

    /// A call in a room with `video` as its video policy.
    fn with_video_policy(seed: u64, video: sfu::VideoPolicy) -> Call {
        let config = SfuConfig {
            video,
            ..SfuConfig::default()
        };
        Call::build(seed, false, memnet::Link::clean(), config)
    }

    fn build(seed: u64, rtp_mode: bool, down: memnet::Link, config: SfuConfig) -> Call {
        let mut world = World::new(config, seed);
        let (publisher, sub) = world.camera_and_subscriber(
            ClientSpec {
                camera: true,
                simulcast: RIDS.to_vec(),
                ..ClientSpec::new("cam", "room", RoomKind::Video)
            },
            ClientSpec {
                rtp_mode,
                down,
                ..ClientSpec::new("sub", "room", RoomKind::Video)
            },
        );
        Call {
            world,
            publisher,
            sub,
            frame: 0,
        }
    }

    /// Sends `frames` frames of every layer, 30 a second.
    fn film(&mut self, frames: u64) {
        self.film_layers(frames, &[0, 1, 2]);
    }

    /// Sends `frames` frames of the `layers` given, 30 a second.
    fn film_layers(&mut self, frames: u64, layers: &[usize]) {
        for _ in 0..frames {
            for (layer, rid) in RIDS.iter().enumerate() {
                if !layers.contains(&layer) {
                    continue;
                }
                let frame = layer_frame(layer, self.frame);
                self.world
                    .send_layer_frame(self.publisher, self.frame, rid, &frame);
            }
            self.frame += 1;
            self.world.run_for(Duration::from_micros(33_333));
        }
    }

    fn set_layer(&mut self, layer: Option<u8>) {
        self.set_view(layer.map_or(TrackView::Paused, TrackView::Layer));
    }

    fn set_view(&mut self, view: TrackView) {
        let track_id = self.world.clients[self.sub]
            .events
            .iter()
            .find_map(|e| match e {
                PeerEvent::TrackPublished { track, .. } => Some(track.track_id.clone()),
                _ => None,
            })
            .expect("a track");
        let peer = self.world.clients[self.sub].peer;
        self.world.command(Command::SetTrackView {
            peer,
            track_id,
            view,
        });
    }

    /// Layers of the frames the subscriber received, in order.
    fn received_layers(&self) -> Vec<usize> {
        self.world.clients[self.sub]
            .media
            .iter()
            .filter_map(|m| layer_of_size(m.data.len()))
            .collect()
    }
}

#[test]
fn a_subscriber_gets_the_highest_layer_then_switches_down_on_a_keyframe() {
    let mut call = Call::new(31, false);
    call.film(GOP * 2);
    let before = call.received_layers();
    assert!(
        before.len() >= (GOP * 2 - 2) as usize,
        "{} frames",
        before.len()
    );
    // The layers start in the same instant; a subscriber takes the highest sent so far, then
    // moves up on each higher layer's first keyframe.
    let high: Vec<_> = before.iter().skip_while(|l| **l != 2).collect();
    assert!(
        high.iter().all(|l| **l == 2),
        "then the highest layer: {before:?}"
    );
    assert!(high.len() as u64 >= GOP * 2 - 1, "{before:?}");

    let asked = call.world.clients[call.publisher].keyframe_requests.len();
    call.set_layer(Some(0));
    call.world.run_for(Duration::from_millis(50));
    let requests = &call.world.clients[call.publisher].keyframe_requests[asked..];
    assert!(
        requests.iter().any(|r| r.rid == Some(Rid::from("q"))),
        "the low layer's keyframe is asked for at once: {requests:?}"
    );
    // Mid-GOP: the high layer goes on until the low layer's next keyframe.
    call.film(GOP * 2);
    let after = &call.received_layers()[before.len()..];
    let switch = after.iter().position(|l| *l == 0).expect("switched down");
    assert!(after[..switch].iter().all(|l| *l == 2));
    assert!(after[switch..].iter().all(|l| *l == 0), "{after:?}");
    assert!(
        switch as u64 <= GOP,
        "switched at the next keyframe: {after:?}"
    );
    assert_eq!(
        after.len() as u64,
        GOP * 2,
        "no frame lost or doubled across the switch"
    );
}

#[test]
fn the_stream_stays_one_stream_across_switches() {
    let mut call = Call::new(32, true);
    call.film(GOP + 3);
    call.set_layer(Some(1));
    call.film(GOP + 3);
    call.set_layer(Some(2));
    call.film(GOP + 3);
    call.set_layer(None);
    call.film(GOP);
    call.world.run_for(Duration::from_millis(200));
    let packets = &call.world.clients[call.sub].rtp;
    let video: Vec<_> = packets
        .iter()
        .filter(|p| p.header.payload_type != str0m::media::Pt::new_with_value(111))
        .collect();
    assert!(video.len() as u64 >= 2 * GOP, "{} packets", video.len());
    let ssrcs: std::collections::HashSet<_> = video.iter().map(|p| p.header.ssrc).collect();
    assert_eq!(ssrcs.len(), 1, "one outgoing stream");
    for pair in video.windows(2) {
        assert_eq!(
            *pair[1].seq_no,
            *pair[0].seq_no + 1,
            "sequence numbers continue across switches"
        );
        assert!(
            pair[1]
                .header
                .timestamp
                .wrapping_sub(pair[0].header.timestamp)
                < 90_000,
            "timestamps move forward"
        );
    }
    let sizes: Vec<usize> = video.iter().map(|p| p.payload.len()).collect();
    let last = *sizes.last().expect("packets");
    assert!(
        last > SIZES[2],
        "the last forwarded layer is the high one (paused after it): {sizes:?}"
    );
}

#[test]
fn a_small_rendered_size_gets_the_low_layer_and_pause_stops_the_track() {
    let mut call = Call::new(33, false);
    call.film(GOP);
    call.set_view(TrackView::Size {
        width: 320,
        height: 180,
    });
    call.film(GOP * 2);
    let layers = call.received_layers();
    assert_eq!(
        layers.last(),
        Some(&0),
        "a 180-pixel tile gets the low layer: {layers:?}"
    );
    call.set_view(TrackView::Paused);
    let before = call.received_layers().len();
    call.film(GOP);
    assert_eq!(call.received_layers().len(), before, "nothing while paused");
    call.set_view(TrackView::Size {
        width: 1280,
        height: 720,
    });
    // The estimate followed the low layer down: the estimator probes for the high one first.
    call.film(GOP * 6);
    assert_eq!(
        call.received_layers().last(),
        Some(&2),
        "back, at the high layer"
    );
}

#[test]
fn settings_for_an_unknown_track_are_refused() {
    let mut call = Call::new(34, false);
    let peer = call.world.clients[call.sub].peer;
    call.world.command(Command::SetTrackView {
        peer,
        track_id: "nobody-s9".into(),
        view: TrackView::Paused,
    });
    call.world.run_for(Duration::from_millis(10));
    assert!(call.world.clients[call.sub].saw(|e| matches!(
        e,
        PeerEvent::Error {
            code: sfu::ErrorCode::UnknownTrack,
            fatal: false,
            ..
        }
    )));
}

/// A client learns a track from the server's offer and may size its tile before it answers:
/// the view is kept for the route the answer opens, not refused as an unknown track.
#[test]
fn settings_sent_before_the_answer_are_kept() {
    let mut world = World::new(SfuConfig::default(), 35);
    let sub = world.join_client(ClientSpec::new("sub", "room", RoomKind::Video));
    assert!(world.run_until(Duration::from_secs(10), |w| w.clients[sub].connected));
    world.clients[sub].answer_offers = false;
    let publisher = world.join_client(ClientSpec {
        camera: true,
        simulcast: RIDS.to_vec(),
        ..ClientSpec::new("cam", "room", RoomKind::Video)
    });
    let offered = world.run_until(Duration::from_secs(10), |w| {
        w.clients[publisher].connected && !w.clients[sub].offers.is_empty()
    });
    assert!(offered, "the server offers the camera");
    let mut call = Call {
        world,
        publisher,
        sub,
        frame: 0,
    };
    call.set_view(TrackView::Size {
        width: 320,
        height: 180,
    });
    call.world.run_for(Duration::from_millis(10));
    let offer = call.world.clients[sub].offers[0].clone();
    let offer = str0m::change::SdpOffer::from_sdp_string(&offer).expect("offer parses");
    let answer = call.world.clients[sub]
        .rtc
        .sdp_api()
        .accept_offer(offer)
        .expect("answered");
    call.world.clients[sub].answer_offers = true;
    let peer = call.world.clients[sub].peer;
    call.world.command(Command::Answer {
        peer,
        sdp: answer.to_sdp_string(),
    });
    call.film(GOP * 3);
    assert!(
        !call.world.clients[sub].saw(|e| matches!(e, PeerEvent::Error { .. })),
        "no error: {:?}",
        call.world.clients[sub].events
    );
    let layers = call.received_layers();
    assert!(!layers.is_empty(), "the camera is received");
    assert!(
        layers.iter().all(|l| *l == 0),
        "only the low layer, as the tile asked before the answer: {layers:?}"
    );
}

/// A publisher short of bandwidth stops its high layer: after `LAYER_IDLE` its subscribers get
/// the highest layer still sent, switched on a keyframe asked for at once; the high layer is
/// taken again when it comes back.
#[test]
fn a_layer_the_publisher_stops_is_replaced_by_the_next_one_down() {
    let mut call = Call::new(35, false);
    call.film(GOP);
    let asked = call.world.clients[call.publisher].keyframe_requests.len();
    let before = call.received_layers().len();
    call.film_layers(GOP * 6, &[0, 1]);
    let during = call.received_layers()[before..].to_vec();
    assert_eq!(during.last(), Some(&1), "the middle layer now: {during:?}");
    let requests = &call.world.clients[call.publisher].keyframe_requests[asked..];
    assert!(
        requests.iter().any(|r| r.rid == Some(Rid::from("h"))),
        "the middle layer's keyframe was asked for: {requests:?}"
    );
    let gap = during.iter().filter(|l| **l == 1).count();
    // 90 frames sent: frozen at most LAYER_IDLE (30 frames) and one GOP until the middle
    // layer's keyframe.
    assert!(
        gap as u64 >= GOP * 6 - 30 - GOP,
        "frozen at most LAYER_IDLE and one GOP: {during:?}"
    );
    let before = call.received_layers().len();
    call.film(GOP * 2);
    assert_eq!(
        call.received_layers()[before..].last(),
        Some(&2),
        "the high layer again"
    );
}

/// Layer bitrates here: about 75, 147 and 243 kbit/s. A subscriber whose downlink carries 200
/// kbit/s is moved to the middle layer by its bandwidth estimate, within a few seconds, and stays
/// there; the same subscriber on a clean link keeps the high layer.
#[test]
fn a_constrained_subscriber_drops_to_the_layer_its_link_carries() {
    let constrained = memnet::Link {
        delay: Duration::from_millis(10),
        bandwidth_bps: Some(200_000),
        ..memnet::Link::default()
    };
    let mut call = Call::with_downlink(36, false, constrained);
    call.film(GOP * 20);
    let layers = call.received_layers();
    let last_second = &layers[layers.len().saturating_sub(30)..];
    assert!(
        last_second.iter().all(|l| *l == 1),
        "the middle layer after 10 s: {layers:?}"
    );
    let first_middle = layers.iter().rposition(|l| *l != 1).map_or(0, |i| i + 1);
    assert!(
        first_middle < 5 * 30,
        "settled on the middle layer within 5 s of frames: {layers:?}"
    );

    let mut clean = Call::new(36, false);
    clean.film(GOP * 20);
    let layers = clean.received_layers();
    assert!(
        layers[layers.len() - 30..].iter().all(|l| *l == 2),
        "a clean link keeps the high layer: {layers:?}"
    );
}

/// The publisher's last dynacast word: `None` before any; `Some((paused, rids))`.
fn told(call: &Call) -> Option<(bool, Vec<String>)> {
    call.world.clients[call.publisher]
        .events
        .iter()
        .rev()
        .find_map(|e| match e {
            PeerEvent::PublishLayers { paused, rids, .. } => Some((*paused, rids.clone())),
            _ => None,
        })
}

/// Dynacast: layers nobody receives are paused at the publisher (after 2 s), and come back at
/// once when a subscriber wants them.
#[test]
fn the_publisher_sends_only_what_someone_receives() {
    let mut call = Call::new(37, false);
    call.film(GOP * 2);
    assert_eq!(told(&call), None, "everything is received: nothing to say");
    call.set_view(TrackView::Size {
        width: 320,
        height: 180,
    });
    call.film(GOP);
    assert_eq!(told(&call), None, "fewer layers only after 2 s");
    call.film(GOP * 4);
    assert_eq!(told(&call), Some((false, vec!["q".to_string()])));
    call.set_view(TrackView::Layer(2));
    call.film(GOP);
    let all: Vec<String> = RIDS.iter().map(|r| r.to_string()).collect();
    assert_eq!(told(&call), Some((false, all.clone())), "more: at once");
    call.set_view(TrackView::Paused);
    call.film(GOP * 6);
    assert_eq!(
        told(&call),
        Some((true, Vec::new())),
        "nobody watches: paused"
    );
    call.set_view(TrackView::Layer(2));
    call.film(GOP);
    assert_eq!(told(&call), Some((false, all)));
}

/// A room that forwards at most two layers: the subscriber gets the middle one at best, and the
/// publisher is told to stop its high layer.
#[test]
fn layers_above_the_rooms_limit_are_not_forwarded() {
    let mut call = Call::with_video_policy(
        38,
        sfu::VideoPolicy {
            max_simulcast_layers: 2,
            ..sfu::VideoPolicy::default()
        },
    );
    call.film(GOP * 6);
    let layers = call.received_layers();
    assert!(
        !layers.contains(&2),
        "the high layer is never forwarded: {layers:?}"
    );
    assert_eq!(layers.last(), Some(&1));
    assert_eq!(
        told(&call),
        Some((false, vec!["q".to_string(), "h".to_string()])),
        "the publisher is told to stop the high layer"
    );
}

/// A camera over the room's bitrate cap: its layers together are about 465 kbit/s, the cap is
/// 300 kbit/s, so its high layer is not forwarded (the lower two fit) and it is told to stop it,
/// beside the REMB that tells it the cap.
#[test]
fn a_camera_over_the_bitrate_cap_has_its_excess_layer_dropped() {
    let mut call = Call::with_video_policy(
        39,
        sfu::VideoPolicy {
            max_camera_bitrate_bps: 300_000,
            ..sfu::VideoPolicy::default()
        },
    );
    call.film(GOP * 8);
    let layers = call.received_layers();
    assert_eq!(layers.last(), Some(&1), "the middle layer: {layers:?}");
    let tail = &layers[layers.len() - 2 * GOP as usize..];
    assert!(
        tail.iter().all(|l| *l == 1),
        "the high layer stays dropped: {layers:?}"
    );
    assert_eq!(
        told(&call),
        Some((false, vec!["q".to_string(), "h".to_string()]))
    );
    assert!(!call.world.clients[call.publisher].remb.is_empty());
}
