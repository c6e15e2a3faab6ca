//! VP8 and VP9 temporal layers through the engine, in memory on the fake clock (`memnet`): a
//! camera sends three temporal layers (the 0-2-1-2 pattern Chrome uses; VP8 with layer sync bits
//! on the frames that refer only to layer 0, VP9 with switching-up points on the frames of
//! layers 0 and 1); a subscriber whose downlink cannot carry the full frame rate gets fewer
//! layers, and gets them back when its link clears. Its stream stays gap-free throughout:
//! sequence numbers and TL0PICIDX continue, and VP8 picture ids too (VP9's keep the distances
//! its receivers find references by), as its depacketizer and its decoder's reference finder
//! need.

mod memnet;

use std::time::Duration;

use memnet::{CameraRtp, ClientSpec, Link, World};
use sfu::{RoomKind, SfuConfig};
use str0m::RtcConfig;
use str0m::format::Codec;

/// Temporal layer of frame `n` in the three-layer pattern.
const PATTERN: [u8; 4] = [0, 2, 1, 2];
/// Frame size per temporal layer: TL0 frames are larger (they carry what the others refer to).
const SIZES: [usize; 3] = [1800, 500, 700];
/// A keyframe every this many frames.
const GOP: u64 = 120;
const MAX_PAYLOAD: usize = 1000;

/// What a received VP8 packet says of itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Received {
    seq: u64,
    picture_id: u16,
    tl0: u8,
    tid: u8,
    frame_start: bool,
}

fn parse(codec: Codec, seq: u64, payload: &[u8]) -> Option<Received> {
    if payload.len() < 7 {
        return None;
    }
    let picture_id = |at: usize| (u16::from(payload[at] & 0x7f) << 8) | u16::from(payload[at + 1]);
    match codec {
        // The descriptor this test writes: X, I (15-bit), L, T.
        Codec::Vp8 if payload[0] & 0x80 != 0 && payload[1] & 0xe0 == 0xe0 => Some(Received {
            seq,
            picture_id: picture_id(2),
            tl0: payload[4],
            tid: payload[5] >> 6,
            frame_start: payload[0] & 0x10 != 0,
        }),
        // I (15-bit), L, non-flexible: picture id, layer indices, TL0PICIDX.
        Codec::Vp9 if payload[0] & 0xb0 == 0xa0 => Some(Received {
            seq,
            picture_id: picture_id(1),
            tid: payload[3] >> 5,
            tl0: payload[4],
            frame_start: payload[0] & 0x08 != 0,
        }),
        _ => None,
    }
}

/// The payload descriptor of packet `k` of `chunks` of frame `picture_id` in `codec`.
fn descriptor(
    codec: Codec,
    picture_id: u16,
    tl0: u8,
    tid: u8,
    (k, chunks): (usize, usize),
    keyframe: bool,
) -> Vec<u8> {
    let (first, last) = (k == 0, k + 1 == chunks);
    let id = [0x80 | (picture_id >> 8) as u8, picture_id as u8];
    match codec {
        Codec::Vp8 => {
            // The first frame of layers 1 and 2 after a base frame refers to the base only.
            let sync = matches!(picture_id % 4, 1 | 2);
            vec![
                0x80 | if first { 0x10 } else { 0 },
                0xe0,
                id[0],
                id[1],
                tl0,
                (tid << 6) | if sync { 0x20 } else { 0 },
            ]
        }
        _ => {
            // Frames of layers 0 and 1 are switching-up points.
            let up = tid < 2;
            vec![
                0xa0 | if keyframe { 0 } else { 0x40 }
                    | if first { 0x08 } else { 0 }
                    | if last { 0x04 } else { 0 },
                id[0],
                id[1],
                (tid << 5) | if up { 0x10 } else { 0 },
                tl0,
            ]
        }
    }
}

struct Camera {
    codec: Codec,
    world: World,
    publisher: usize,
    sub: usize,
    frame: u64,
    seq: u64,
    tl0: u8,
}

impl Camera {
    fn new(codec: Codec, seed: u64, down: Link) -> Camera {
        let mut world = World::new(SfuConfig::default(), seed);
        let config = RtcConfig::new().clear_codecs().enable_opus(true, false);
        let config = match codec {
            Codec::Vp8 => config.enable_vp8(true),
            _ => config.enable_vp9(true),
        };
        let (publisher, sub) = world.camera_and_subscriber(
            ClientSpec {
                camera: true,
                config,
                ..ClientSpec::new("cam", "room", RoomKind::Video)
            },
            ClientSpec {
                rtp_mode: true,
                down,
                ..ClientSpec::new("sub", "room", RoomKind::Video)
            },
        );
        Camera {
            codec,
            world,
            publisher,
            sub,
            frame: 0,
            seq: 1000,
            tl0: 200,
        }
    }

    /// Sends `frames` frames, 30 a second, each in packets of at most `MAX_PAYLOAD` bytes.
    fn film(&mut self, frames: u64) {
        for _ in 0..frames {
            let n = self.frame;
            let tid = PATTERN[(n % 4) as usize];
            if tid == 0 && n > 0 {
                self.tl0 = self.tl0.wrapping_add(1);
            }
            // 32_700 is a multiple of 4: the id tells the frame's place in the pattern.
            let picture_id = (32_700 + n) as u16 & 0x7fff;
            let keyframe = n.is_multiple_of(GOP);
            let mut body = vec![(n % 250) as u8; SIZES[usize::from(tid)]];
            // The frame header's first byte: VP8's keyframe bit, VP9's frame type.
            body[0] = match (self.codec, keyframe) {
                (Codec::Vp8, true) => 0x10,
                (Codec::Vp8, false) => 0x11,
                (_, true) => 0x82,
                (_, false) => 0x86,
            };
            let chunks: Vec<&[u8]> = body.chunks(MAX_PAYLOAD).collect();
            for (k, chunk) in chunks.iter().enumerate() {
                let at = (k, chunks.len());
                let mut payload = descriptor(self.codec, picture_id, self.tl0, tid, at, keyframe);
                payload.extend_from_slice(chunk);
                let last = k + 1 == chunks.len();
                let packet = CameraRtp {
                    codec: self.codec,
                    rid: None,
                    seq: self.seq,
                    ts: (n * 3000) as u32,
                    marker: last,
                    payload,
                };
                self.world.send_camera_rtp(self.publisher, packet);
                self.seq += 1;
            }
            self.frame += 1;
            self.world.run_for(Duration::from_micros(33_333));
        }
    }

    /// The VP8 packets the subscriber received, in sequence order (as its jitter buffer puts
    /// them: packets queued on the limited link land after newer ones once it is replaced).
    fn received(&self) -> Vec<Received> {
        let mut packets: Vec<Received> = self.world.clients[self.sub]
            .rtp
            .iter()
            .filter_map(|p| parse(self.codec, *p.seq_no, &p.payload))
            .collect();
        packets.sort_by_key(|p| p.seq);
        packets.dedup_by_key(|p| p.seq);
        packets
    }
}

/// Sequence numbers, picture ids (VP8; VP9's only move forward) and TL0PICIDX continue from
/// packet to packet and frame to frame over `packets`.
fn assert_gap_free(codec: Codec, packets: &[Received]) {
    for pair in packets.windows(2) {
        let (a, b) = (pair[0], pair[1]);

        assert_eq!(
            b.seq,
            a.seq + 1,
            "sequence numbers continue: {a:?} then {b:?}"
        );
        if b.frame_start {
            let step = (b.picture_id + 0x8000 - a.picture_id) & 0x7fff;
            if codec == Codec::Vp8 {
                assert_eq!(step, 1, "picture ids continue: {a:?} then {b:?}");
            } else {
                assert!(
                    (1..=4).contains(&step),
                    "picture ids move on: {a:?} then {b:?}"
                );
            }
            let tl0_step = u8::from(b.tid == 0);
            assert_eq!(b.tl0, a.tl0.wrapping_add(tl0_step), "TL0PICIDX continues");
        } else {
            assert_eq!(b.picture_id, a.picture_id, "one frame");
        }
    }
}

/// Temporal layers of the frames received in the last `frames` frames' worth of packets.
fn layers_at_end(packets: &[Received], frames: usize) -> Vec<u8> {
    let starts: Vec<u8> = packets
        .iter()
        .filter(|p| p.frame_start)
        .map(|p| p.tid)
        .collect();
    starts[starts.len().saturating_sub(frames)..].to_vec()
}

/// The full rate is about 210 kbit/s, the base layer alone about 110, the base and layer 1
/// about 150. Over a 140 kbit/s downlink the subscriber ends up without layer 2 (and perhaps
/// layer 1); once the link clears, layer 2 comes back at a sync point. The stream never shows
/// a gap.
fn a_short_estimate_drops_temporal_layers_and_they_come_back(codec: Codec) {
    let constrained = Link {
        delay: Duration::from_millis(10),
        bandwidth_bps: Some(140_000),
        ..Link::default()
    };
    let mut call = Camera::new(codec, 41, constrained);
    call.film(30 * 15);
    let during = call.received();
    let tail = layers_at_end(&during, 60);
    assert!(
        !tail.is_empty() && tail.iter().all(|tid| *tid < 2),
        "no layer 2 in the last 2 s over 140 kbit/s: {tail:?}"
    );
    assert!(tail.contains(&0), "the base layer still flows: {tail:?}");
    assert!(call.world.stats().temporal_drops > 0);
    assert_gap_free(codec, &during);

    call.world.clients[call.sub].down = Link::clean();
    call.film(30 * 15);
    let after = call.received();
    let tail = layers_at_end(&after, 60);
    assert!(
        tail.contains(&2) && tail.contains(&1),
        "every layer again on a clean link: {tail:?}"
    );
    assert_gap_free(codec, &after);
}

#[test]
fn vp8_temporal_layers_drop_on_a_short_estimate_and_come_back() {
    a_short_estimate_drops_temporal_layers_and_they_come_back(Codec::Vp8);
}

#[test]
fn vp9_temporal_layers_drop_on_a_short_estimate_and_come_back() {
    a_short_estimate_drops_temporal_layers_and_they_come_back(Codec::Vp9);
}

/// On a clean link nothing is dropped and the ids pass through as the publisher wrote them.
#[test]
fn a_clean_link_gets_every_temporal_layer() {
    for codec in [Codec::Vp8, Codec::Vp9] {
        let mut call = Camera::new(codec, 42, Link::clean());
        call.film(30 * 4);
        let received = call.received();
        let frames = received.iter().filter(|p| p.frame_start).count();
        assert!(frames >= 30 * 4 - 5, "{codec:?}: {frames} frames of 120");
        assert_gap_free(codec, &received);
        assert_eq!(call.world.stats().temporal_drops, 0);
    }
}
