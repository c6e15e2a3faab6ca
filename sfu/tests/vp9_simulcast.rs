//! VP9 simulcast through the engine, in memory on the fake clock (`memnet`): each of the
//! camera's three layers numbers its pictures on its own (picture id and TL0PICIDX), and a
//! subscriber moved from one layer to another still sees one stream: sequence numbers, picture
//! ids and TL0PICIDX all continue across the switches, as its depacketizer and its decoder's
//! reference finder need.

mod memnet;

use std::time::Duration;

use memnet::{CameraRtp, ClientSpec, World};
use sfu::engine::Command;
use sfu::{PeerEvent, RoomKind, SfuConfig, TrackView};
use str0m::RtcConfig;
use str0m::format::Codec;

const RIDS: [&str; 3] = ["q", "h", "f"];
/// Frame size per layer: a received packet's length tells its layer.
const SIZES: [usize; 3] = [300, 600, 900];
/// Each layer's first picture id, TL0PICIDX and sequence number: far apart, as separate
/// encoders' are.
const FIRST_PICTURE: [u16; 3] = [100, 9_000, 32_700];
const FIRST_TL0: [u8; 3] = [0, 90, 250];
const FIRST_SEQ: [u64; 3] = [1_000, 20_000, 40_000];
/// A keyframe every this many frames.
const GOP: u64 = 15;
/// The descriptor this test writes: I (15-bit id), L, B, E, then TID/SID and TL0PICIDX.
const DESCRIPTOR_LEN: usize = 5;

fn vp9_packet(layer: usize, n: u64) -> Vec<u8> {
    let keyframe = n.is_multiple_of(GOP);
    let picture = (FIRST_PICTURE[layer] as u64 + n) as u16 & 0x7fff;
    let mut payload = vec![
        0x80 | 0x20 | 0x08 | 0x04 | if keyframe { 0 } else { 0x40 },
        0x80 | (picture >> 8) as u8,
        picture as u8,
        0x00, // TID 0, SID 0
        FIRST_TL0[layer].wrapping_add(n as u8),
    ];
    // A VP9 frame header's first byte: frame marker, profile 0, key or inter frame.
    payload.push(if keyframe { 0x82 } else { 0x86 });
    payload.resize(SIZES[layer], (n % 200) as u8);
    payload
}

/// What a received packet of this test says: its sequence number, layer, picture id and
/// TL0PICIDX.
fn parse(seq: u64, payload: &[u8]) -> Option<(u64, usize, u16, u8)> {
    let layer = SIZES.iter().position(|s| *s == payload.len())?;
    let picture = (u16::from(payload[1] & 0x7f) << 8) | u16::from(payload[2]);
    Some((seq, layer, picture, payload[4]))
}

#[test]
fn ids_continue_across_vp9_layer_switches() {
    let mut world = World::new(SfuConfig::default(), 51);
    let vp9_only = RtcConfig::new()
        .clear_codecs()
        .enable_opus(true, false)
        .enable_vp9(true);
    let (publisher, sub) = world.camera_and_subscriber(
        ClientSpec {
            camera: true,
            simulcast: RIDS.to_vec(),
            config: vp9_only,
            ..ClientSpec::new("cam", "room", RoomKind::Video)
        },
        ClientSpec {
            rtp_mode: true,
            ..ClientSpec::new("sub", "room", RoomKind::Video)
        },
    );
    let track_id = world.clients[sub]
        .events
        .iter()
        .find_map(|e| match e {
            PeerEvent::TrackPublished { track, .. } => Some(track.track_id.clone()),
            _ => None,
        })
        .expect("a track");
    let peer = world.clients[sub].peer;

    let mut n = 0;
    let mut film = |world: &mut World, frames: u64| {
        for _ in 0..frames {
            for (layer, rid) in RIDS.iter().enumerate() {
                let packet = CameraRtp {
                    codec: Codec::Vp9,
                    rid: Some(rid),
                    seq: FIRST_SEQ[layer] + n,
                    ts: (n * 3000) as u32,
                    marker: true,
                    payload: vp9_packet(layer, n),
                };
                world.send_camera_rtp(publisher, packet);
            }
            n += 1;
            world.run_for(Duration::from_micros(33_333));
        }
    };
    film(&mut world, GOP + 3);
    for layer in [0, 2, 1] {
        world.command(Command::SetTrackView {
            peer,
            track_id: track_id.clone(),
            view: TrackView::Layer(layer),
        });
        film(&mut world, 2 * GOP);
    }
    world.run_for(Duration::from_millis(200));

    let mut received: Vec<(u64, usize, u16, u8)> = world.clients[sub]
        .rtp
        .iter()
        .filter(|p| p.payload.len() > DESCRIPTOR_LEN)
        .filter_map(|p| parse(*p.seq_no, &p.payload))
        .collect();
    received.sort_by_key(|r| r.0);
    received.dedup_by_key(|r| r.0);
    let layers: Vec<usize> = received.iter().map(|r| r.1).collect();
    let mut switches = layers.clone();
    switches.dedup();
    // The very first frame may come as a lower layer's keyframe: the top layer counts as sent
    // only once its first packet is in.
    assert!(
        switches.ends_with(&[2, 0, 2, 1]) && switches.len() <= 6,
        "the layers received in turn: {layers:?}"
    );
    for pair in received.windows(2) {
        let ((s0, _, p0, t0), (s1, _, p1, t1)) = (pair[0], pair[1]);
        assert_eq!(s1, s0 + 1, "sequence numbers continue: {pair:?}");
        assert_eq!(p1, (p0 + 1) & 0x7fff, "picture ids continue: {pair:?}");
        assert_eq!(t1, t0.wrapping_add(1), "TL0PICIDX continues: {pair:?}");
    }
}
