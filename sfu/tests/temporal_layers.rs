//! VP8 temporal layers through the engine, in memory on the fake clock (`memnet`): a camera sends
//! three temporal layers (the 0-2-1-2 pattern Chrome uses, layer sync bits on the frames that
//! refer only to layer 0); a subscriber whose downlink cannot carry the full frame rate gets
//! fewer layers, and gets them back when its link clears. Its stream stays gap-free throughout:
//! sequence numbers, VP8 picture ids and TL0PICIDX all continue, as its depacketizer and its
//! decoder's reference finder need.

mod memnet;

use std::time::Duration;

use memnet::{ClientSpec, Link, World};
use sfu::{PeerEvent, RoomKind, SfuConfig};

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

fn parse(seq: u64, payload: &[u8]) -> Option<Received> {
    // The descriptor this test writes: X, I (15-bit), L, T.
    if payload.len() < 7 || payload[0] & 0x80 == 0 || payload[1] & 0xe0 != 0xe0 {
        return None;
    }
    Some(Received {
        seq,
        picture_id: (u16::from(payload[2] & 0x7f) << 8) | u16::from(payload[3]),
        tl0: payload[4],
        tid: payload[5] >> 6,
        frame_start: payload[0] & 0x10 != 0,
    })
}

struct Camera {
    world: World,
    publisher: usize,
    sub: usize,
    frame: u64,
    seq: u64,
    tl0: u8,
}

impl Camera {
    fn new(seed: u64, down: Link) -> Camera {
        let mut world = World::new(SfuConfig::default(), seed);
        let publisher = world.join_client(ClientSpec {
            camera: true,
            ..ClientSpec::new("cam", "room", RoomKind::Video)
        });
        let sub = world.join_client(ClientSpec {
            rtp_mode: true,
            down,
            ..ClientSpec::new("sub", "room", RoomKind::Video)
        });
        let ok = world.run_until(Duration::from_secs(10), |w| {
            w.clients.iter().all(|c| c.connected)
                && w.clients[sub].saw(|e| matches!(e, PeerEvent::TrackPublished { .. }))
        });
        assert!(ok, "both connect and the subscriber sees the camera");
        world.run_for(Duration::from_millis(300));
        Camera {
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
            // The first frame of layers 1 and 2 after a base frame refers to the base only.
            let sync = n % 4 == 1 || n % 4 == 2;
            let picture_id = (32_700 + n) as u16 & 0x7fff;
            let keyframe = n.is_multiple_of(GOP);
            let mut body = vec![(n % 250) as u8; SIZES[usize::from(tid)]];
            body[0] = if keyframe { 0x10 } else { 0x11 };
            let chunks: Vec<&[u8]> = body.chunks(MAX_PAYLOAD).collect();
            for (k, chunk) in chunks.iter().enumerate() {
                let mut payload = vec![
                    0x80 | if k == 0 { 0x10 } else { 0 },
                    0xe0,
                    0x80 | (picture_id >> 8) as u8,
                    picture_id as u8,
                    self.tl0,
                    (tid << 6) | if sync { 0x20 } else { 0 },
                ];
                payload.extend_from_slice(chunk);
                let last = k + 1 == chunks.len();
                self.world.send_camera_vp8_rtp(
                    self.publisher,
                    self.seq,
                    (n * 3000) as u32,
                    last,
                    payload,
                );
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
            .filter_map(|p| parse(*p.seq_no, &p.payload))
            .collect();
        packets.sort_by_key(|p| p.seq);
        packets.dedup_by_key(|p| p.seq);
        packets
    }
}

/// Sequence numbers, picture ids and TL0PICIDX continue from packet to packet and frame to
/// frame over `packets`.
fn assert_gap_free(packets: &[Received]) {
    for pair in packets.windows(2) {
        let (a, b) = (pair[0], pair[1]);

        assert_eq!(
            b.seq,
            a.seq + 1,
            "sequence numbers continue: {a:?} then {b:?}"
        );
        if b.frame_start {
            assert_eq!(
                b.picture_id,
                (a.picture_id + 1) & 0x7fff,
                "picture ids continue: {a:?} then {b:?}"
            );
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
#[test]
fn a_short_estimate_drops_temporal_layers_and_they_come_back() {
    let constrained = Link {
        delay: Duration::from_millis(10),
        bandwidth_bps: Some(140_000),
        ..Link::default()
    };
    let mut call = Camera::new(41, constrained);
    call.film(30 * 15);
    let during = call.received();
    let tail = layers_at_end(&during, 60);
    assert!(
        !tail.is_empty() && tail.iter().all(|tid| *tid < 2),
        "no layer 2 in the last 2 s over 140 kbit/s: {tail:?}"
    );
    assert!(tail.contains(&0), "the base layer still flows: {tail:?}");
    assert!(call.world.stats().temporal_drops > 0);
    assert_gap_free(&during);

    call.world.clients[call.sub].down = Link::clean();
    call.film(30 * 15);
    let after = call.received();
    let tail = layers_at_end(&after, 60);
    assert!(
        tail.contains(&2) && tail.contains(&1),
        "every layer again on a clean link: {tail:?}"
    );
    assert_gap_free(&after);
}

/// On a clean link nothing is dropped and the ids pass through as the publisher wrote them.
#[test]
fn a_clean_link_gets_every_temporal_layer() {
    let mut call = Camera::new(42, Link::clean());
    call.film(30 * 4);
    let received = call.received();
    let frames = received.iter().filter(|p| p.frame_start).count();
    assert!(frames >= 30 * 4 - 5, "{frames} frames of 120");
    assert_gap_free(&received);
    assert_eq!(call.world.stats().temporal_drops, 0);
}
