//! Received RTP packets to whole frames: depacketizing per codec, dropping what cannot be
//! decoded (a frame missing a packet, and everything after it up to the next keyframe).
//!
//! It holds no jitter buffer: a packet older than the newest seen counts as late and is
//! dropped (on loopback and in load tests packets arrive in order; a frame that loses one is
//! a decoding gap the report shows as a freeze).

use super::clip::VideoCodec;
use bytes::Bytes;
use rtc::rtp::codec::{av1::Av1Depacketizer, h264::H264Packet, vp8::Vp8Packet, vp9::Vp9Packet};
use rtc::rtp::packetizer::Depacketizer;

/// A whole, decodable frame.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The frame (Annex-B for H.264; a temporal unit of OBUs for AV1).
    pub data: Vec<u8>,
    /// Its RTP timestamp.
    pub rtp_timestamp: u32,
    /// Decodable on its own.
    pub keyframe: bool,
}

/// What [`FrameAssembler::push`] made of a packet.
#[derive(Debug, Default)]
pub struct Pushed {
    /// A frame completed by this packet.
    pub frame: Option<Frame>,
    /// Packets found missing before this one.
    pub lost: u64,
    /// The packet was older than the newest seen, and dropped.
    pub late: bool,
    /// A frame was dropped: the receiver needs a keyframe.
    pub needs_keyframe: bool,
}

/// Reassembles one RTP stream's frames.
pub struct FrameAssembler {
    codec: VideoCodec,
    depacketizer: Box<dyn Depacketizer + Send>,
    next_seq: Option<u16>,
    timestamp: Option<u32>,
    parts: Vec<u8>,
    /// The current frame lost a packet.
    broken: bool,
    /// Frames are dropped until a keyframe.
    waiting_keyframe: bool,
    /// Consecutive packets older than the newest seen.
    late_in_a_row: u32,
}

/// So many "late" packets in a row are a jump in the sequence, not lateness.
const RESYNC_AFTER_LATE: u32 = 32;

fn depacketizer(codec: VideoCodec) -> Box<dyn Depacketizer + Send> {
    match codec {
        VideoCodec::Vp8 => Box::new(Vp8Packet::default()),
        VideoCodec::Vp9 => Box::new(Vp9Packet::default()),
        VideoCodec::Av1 => Box::new(Av1Depacketizer::default()),
        VideoCodec::H264 => Box::new(H264Packet::default()),
    }
}

impl FrameAssembler {
    /// An assembler for `codec`, waiting for the first keyframe.
    pub fn new(codec: VideoCodec) -> Self {
        Self {
            codec,
            depacketizer: depacketizer(codec),
            next_seq: None,
            timestamp: None,
            parts: Vec::new(),
            broken: false,
            waiting_keyframe: true,
            late_in_a_row: 0,
        }
    }

    /// The codec assembled.
    pub fn codec(&self) -> VideoCodec {
        self.codec
    }

    /// Takes one packet.
    pub fn push(&mut self, seq: u16, timestamp: u32, marker: bool, payload: &Bytes) -> Pushed {
        let mut out = Pushed::default();
        if let Some(expected) = self.next_seq
            && seq.wrapping_sub(expected) >= 0x8000
        {
            self.late_in_a_row += 1;
            if self.late_in_a_row < RESYNC_AFTER_LATE {
                out.late = true;
                return out;
            }
            // Not late: the stream jumped back (a new source). Start over from here.
            self.next_seq = None;
            self.waiting_keyframe = true;
            self.parts.clear();
            self.timestamp = None;
            self.depacketizer = depacketizer(self.codec);
        }
        self.late_in_a_row = 0;
        if payload.is_empty() {
            // Padding (bandwidth probing): it takes a sequence number, carries no media.
            if self.next_seq == Some(seq) {
                self.next_seq = Some(seq.wrapping_add(1));
            }
            return out;
        }
        if let Some(expected) = self.next_seq {
            let ahead = seq.wrapping_sub(expected);
            if ahead > 0 {
                out.lost = u64::from(ahead);
                self.broken = true;
                self.depacketizer = depacketizer(self.codec);
            }
        }
        self.next_seq = Some(seq.wrapping_add(1));
        if self.timestamp != Some(timestamp) {
            // A new frame began without the last one's marker: the last one is incomplete.
            if self.timestamp.is_some() && !self.parts.is_empty() {
                self.broken = true;
            }
            self.drop_frame(&mut out);
            self.timestamp = Some(timestamp);
            self.broken = out.lost > 0 && !self.depacketizer.is_partition_head(payload);
        }
        match self.depacketizer.depacketize(payload) {
            Ok(data) => self.parts.extend_from_slice(&data),
            Err(_) => self.broken = true,
        }
        if marker {
            let data = std::mem::take(&mut self.parts);
            let keyframe = self.codec.is_keyframe(&data);
            let decodable =
                !self.broken && !data.is_empty() && (keyframe || !self.waiting_keyframe);
            if decodable {
                self.waiting_keyframe = false;
                out.frame = Some(Frame {
                    data,
                    rtp_timestamp: timestamp,
                    keyframe,
                });
            } else {
                self.waiting_keyframe = true;
                out.needs_keyframe = true;
            }
            self.broken = false;
            self.timestamp = None;
        }
        out
    }

    /// Forgets a frame left incomplete.
    fn drop_frame(&mut self, out: &mut Pushed) {
        if self.broken || !self.parts.is_empty() {
            self.waiting_keyframe = true;
            out.needs_keyframe = true;
        }
        self.parts.clear();
        self.broken = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VP8 payload descriptor (start of partition) and the frame's bytes.
    fn vp8(start: bool, body: &[u8]) -> Bytes {
        let mut p = vec![if start { 0x10 } else { 0x00 }];
        p.extend_from_slice(body);
        Bytes::from(p)
    }

    #[test]
    fn frames_are_joined_and_a_loss_waits_for_a_keyframe() {
        // (VP8's depacketizer wants at least four bytes per payload.)
        let mut a = FrameAssembler::new(VideoCodec::Vp8);
        // A delta frame before any keyframe is dropped.
        assert!(
            a.push(1, 100, true, &vp8(true, &[0x11, 1, 1, 1]))
                .frame
                .is_none()
        );
        // A keyframe in two packets.
        assert!(
            a.push(2, 200, false, &vp8(true, &[0x10, 2, 2, 2]))
                .frame
                .is_none()
        );
        let key = a
            .push(3, 200, true, &vp8(false, &[3, 3, 3]))
            .frame
            .expect("keyframe");
        assert!(key.keyframe);
        assert_eq!(key.data, [0x10, 2, 2, 2, 3, 3, 3]);
        assert!(
            a.push(4, 300, true, &vp8(true, &[0x11, 4, 4, 4]))
                .frame
                .is_some()
        );
        // Packet 5 (a whole frame) is lost: the next delta frame is not decodable.
        let after_loss = a.push(6, 500, true, &vp8(true, &[0x11, 6, 6, 6]));
        assert_eq!(after_loss.lost, 1);
        assert!(after_loss.frame.is_none() && after_loss.needs_keyframe);
        assert!(
            a.push(7, 600, true, &vp8(true, &[0x11, 7, 7, 7]))
                .frame
                .is_none()
        );
        assert!(
            a.push(8, 700, true, &vp8(true, &[0x10, 8, 8, 8]))
                .frame
                .is_some()
        );
        // A late packet is dropped.
        assert!(a.push(5, 400, true, &vp8(true, &[0x11, 5, 5, 5])).late);
    }

    #[test]
    fn padding_is_skipped_and_a_jump_back_resyncs() {
        let mut a = FrameAssembler::new(VideoCodec::Vp8);
        assert!(
            a.push(100, 1, true, &vp8(true, &[0x10, 1, 1, 1]))
                .frame
                .is_some()
        );
        let padding = a.push(101, 1, false, &Bytes::new());
        assert_eq!(padding.lost, 0);
        assert!(
            a.push(102, 2, true, &vp8(true, &[0x11, 2, 2, 2]))
                .frame
                .is_some()
        );
        // A new source restarts the sequence far behind: after a few "late" packets it is
        // taken as the new sequence, from its next keyframe.
        let late: Vec<bool> = (0..RESYNC_AFTER_LATE as u16)
            .map(|i| {
                a.push(
                    10 + i,
                    1000 + u32::from(i),
                    true,
                    &vp8(true, &[0x11, 3, 3, 3]),
                )
                .late
            })
            .collect();
        assert!(late[..late.len() - 1].iter().all(|l| *l), "{late:?}");
        assert!(!late[late.len() - 1], "resynced");
        let key = a.push(100, 5000, true, &vp8(true, &[0x10, 4, 4, 4]));
        assert!(key.frame.is_some_and(|f| f.keyframe));
    }
}
