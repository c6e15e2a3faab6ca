//! VP8 and VP9 picture ids across simulcast switches. Each layer numbers its frames on its own
//! (the RTP payload descriptor's PictureID and TL0PICIDX, RFC 7741 and RFC 9628), so a
//! subscriber switched from one layer to another would see the numbers jump. Per subscriber and track, the ids are shifted so
//! they continue: the first frame after a switch gets the id after the last one sent. The patch
//! is applied by str0m while it serializes a VP8 packet (`RtpWrite::vp8_patch`): no copy of the
//! payload; a VP9 packet is copied with its ids rewritten (`vp9.rs`).
//!
//! Frames the server drops on purpose (a temporal layer the subscriber does not get) are taken
//! out of the numbering ([`PictureIds::drop_frame`]): a receiver that sees a picture id missing
//! waits for that frame before it decodes the frames that refer past it.

use std::collections::VecDeque;

use str0m::rtp::{Vp8Descriptor, Vp8Patch};

/// 15-bit PictureID space.
const PICTURE_ID_MOD: u16 = 1 << 15;

/// Dropped picture ids kept apart before the oldest is folded into the offset.
const DROPS_KEPT: usize = 64;

/// Whether picture id `a` comes before `b` (15-bit serial number arithmetic).
fn before(a: u16, b: u16) -> bool {
    let distance = (b + PICTURE_ID_MOD - a) % PICTURE_ID_MOD;
    distance != 0 && distance < PICTURE_ID_MOD / 2
}

/// The picture id shift of one subscriber's stream of one track.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PictureIds {
    picture_offset: u16,
    tl0_offset: u8,
    last_picture: Option<u16>,
    last_tl0: Option<u8>,
    /// Source picture ids of frames dropped lately, in order: each moves the ids after it
    /// down by one.
    dropped: VecDeque<u16>,
}

impl PictureIds {
    /// The stream switches to another layer at the packet described by `descriptor`: its ids
    /// continue after the last ones sent.
    pub fn switch(&mut self, descriptor: &Vp8Descriptor) {
        self.switch_to(descriptor.picture_id(), descriptor.tl0_pic_idx());
    }

    /// [`PictureIds::switch`] at a packet carrying `picture` and `tl0` (any codec's ids).
    pub fn switch_to(&mut self, picture: Option<u16>, tl0: Option<u8>) {
        if let (Some(last), Some(incoming)) = (self.last_picture, picture) {
            let next = (last + 1) % PICTURE_ID_MOD;
            self.picture_offset = (next + PICTURE_ID_MOD - incoming) % PICTURE_ID_MOD;
        }
        if let (Some(last), Some(incoming)) = (self.last_tl0, tl0) {
            self.tl0_offset = last.wrapping_add(1).wrapping_sub(incoming);
        }
        self.dropped.clear();
    }

    /// The frame of the packet described by `descriptor` is not sent: the ids after it move
    /// down by one (once per frame, whatever the number of its packets).
    pub fn drop_frame(&mut self, descriptor: &Vp8Descriptor) {
        let Some(id) = descriptor.picture_id() else {
            return;
        };
        if self.dropped.back().is_some_and(|last| !before(*last, id)) {
            return; // this frame's id already, or an older one
        }
        self.dropped.push_back(id);
        if self.dropped.len() > DROPS_KEPT {
            self.dropped.pop_front();
            self.picture_offset = (self.picture_offset + PICTURE_ID_MOD - 1) % PICTURE_ID_MOD;
        }
    }

    /// The ids a packet carrying `picture` and `tl0` goes out with (`None`: as they are). The
    /// ids written are the last ones sent from then on: call it only for a packet that goes out.
    pub fn map(
        &mut self,
        picture: Option<u16>,
        tl0: Option<u8>,
    ) -> Option<(Option<u16>, Option<u8>)> {
        let dropped_before = |id: u16| {
            let after = self
                .dropped
                .iter()
                .rev()
                .take_while(|d| !before(**d, id))
                .count();
            (self.dropped.len() - after) as u16
        };
        let shift = picture.map_or(self.picture_offset, |id| {
            (self.picture_offset + PICTURE_ID_MOD - dropped_before(id)) % PICTURE_ID_MOD
        });
        let picture = picture.map(|id| (id + shift) % PICTURE_ID_MOD);
        let tl0 = tl0.map(|idx| idx.wrapping_add(self.tl0_offset));
        self.last_picture = picture.or(self.last_picture);
        self.last_tl0 = tl0.or(self.last_tl0);
        (shift != 0 || self.tl0_offset != 0).then_some((picture, tl0))
    }

    /// The VP8 patch for a packet described by `descriptor` (`None`: its ids stay as they are),
    /// as [`PictureIds::map`] gives them.
    pub fn patch(&mut self, descriptor: &Vp8Descriptor) -> Option<Vp8Patch> {
        let (picture, tl0) = self.map(descriptor.picture_id(), descriptor.tl0_pic_idx())?;
        let mut builder = descriptor.patch();
        if let Some(picture) = picture {
            builder = builder.picture_id(picture);
        }
        if let Some(tl0) = tl0 {
            builder = builder.tl0_pic_idx(tl0);
        }
        // A 7-bit PictureID cannot carry a 15-bit one: leave such a packet as it is.
        builder.build().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VP8 payload with a 15-bit PictureID, a TL0PICIDX and a TID.
    fn payload(picture: u16, tl0: u8) -> Vec<u8> {
        vec![
            0x90, // X, S
            0xe0, // I, L, T
            0x80 | (picture >> 8) as u8,
            picture as u8,
            tl0,
            0x20, // TID 0, Y
            0x11, // a delta frame's first byte
            0,
            0,
        ]
    }

    /// What `ids` makes of a packet with `picture` and `tl0`: `None` when it leaves the packet as
    /// it is, else the ids it writes (checked against the patch str0m builds for them).
    fn patched(ids: &mut PictureIds, picture: u16, tl0: u8) -> (u16, u8) {
        let bytes = payload(picture, tl0);
        let d = Vp8Descriptor::parse(&bytes).expect("descriptor");
        let patch = ids.patch(&d);
        let written = (
            ids.last_picture.expect("a picture id"),
            ids.last_tl0.expect("a TL0PICIDX"),
        );
        let expected = (written != (picture, tl0)).then(|| {
            d.patch()
                .picture_id(written.0)
                .tl0_pic_idx(written.1)
                .build()
                .expect("fits")
        });
        assert_eq!(patch, expected);
        written
    }

    #[test]
    fn ids_continue_across_a_switch_and_wrap() {
        let mut ids = PictureIds::default();
        // The high layer: ids 100, 101, left as they are.
        assert_eq!(patched(&mut ids, 100, 7), (100, 7));
        assert_eq!(patched(&mut ids, 101, 8), (101, 8));
        // Switch to a layer numbered from 32760: the next is 102, 9.
        let low = payload(32_760, 250);
        ids.switch(&Vp8Descriptor::parse(&low).expect("descriptor"));
        assert_eq!(patched(&mut ids, 32_760, 250), (102, 9));
        assert_eq!(patched(&mut ids, 32_767, 255), (109, 14));
        assert_eq!(patched(&mut ids, 0, 0), (110, 15), "wraps");
    }

    fn drop(ids: &mut PictureIds, picture: u16) {
        let bytes = payload(picture, 0);
        ids.drop_frame(&Vp8Descriptor::parse(&bytes).expect("descriptor"));
    }

    #[test]
    fn dropped_frames_leave_no_gap() {
        let mut ids = PictureIds::default();
        assert_eq!(patched(&mut ids, 32_766, 3), (32_766, 3));
        drop(&mut ids, 32_767);
        drop(&mut ids, 32_767); // its second packet
        assert_eq!(patched(&mut ids, 0, 4), (32_767, 4));
        drop(&mut ids, 1);
        drop(&mut ids, 2);
        assert_eq!(patched(&mut ids, 3, 5), (0, 5), "wraps");
        // A late packet of a frame before the drops keeps its place.
        assert_eq!(patched(&mut ids, 0, 4), (32_767, 4));
        // Past the kept drops, the oldest fold into the offset and still count.
        for n in 0..(DROPS_KEPT as u16 + 5) {
            drop(&mut ids, 4 + 2 * n);
            assert_eq!(patched(&mut ids, 5 + 2 * n, 6), (1 + n, 6));
        }
        // A switch starts afresh after the last id sent.
        let last = ids.last_picture.expect("sent");
        let other = payload(500, 9);
        ids.switch(&Vp8Descriptor::parse(&other).expect("descriptor"));
        assert_eq!(patched(&mut ids, 500, 9).0, (last + 1) % PICTURE_ID_MOD);
        assert_eq!(patched(&mut ids, 501, 10).0, (last + 2) % PICTURE_ID_MOD);
    }
}
