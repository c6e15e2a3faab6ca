//! VP8 picture ids across simulcast switches. Each layer numbers its frames on its own (the
//! RTP payload descriptor's PictureID and TL0PICIDX, RFC 7741), so a subscriber switched from one
//! layer to another would see the numbers jump. Per subscriber and track, the ids are shifted so
//! they continue: the first frame after a switch gets the id after the last one sent. The patch
//! is applied by str0m while it serializes the packet (`RtpWrite::vp8_patch`): no copy of the
//! payload.

use str0m::rtp::{Vp8Descriptor, Vp8Patch};

/// 15-bit PictureID space.
const PICTURE_ID_MOD: u16 = 1 << 15;

/// The picture id shift of one subscriber's stream of one track.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PictureIds {
    picture_offset: u16,
    tl0_offset: u8,
    last_picture: Option<u16>,
    last_tl0: Option<u8>,
}

impl PictureIds {
    /// The stream switches to another layer at the packet described by `descriptor`: its ids
    /// continue after the last ones sent.
    pub fn switch(&mut self, descriptor: &Vp8Descriptor) {
        if let (Some(last), Some(incoming)) = (self.last_picture, descriptor.picture_id()) {
            let next = (last + 1) % PICTURE_ID_MOD;
            self.picture_offset = (next + PICTURE_ID_MOD - incoming) % PICTURE_ID_MOD;
        }
        if let (Some(last), Some(incoming)) = (self.last_tl0, descriptor.tl0_pic_idx()) {
            self.tl0_offset = last.wrapping_add(1).wrapping_sub(incoming);
        }
    }

    /// The patch for a packet described by `descriptor` (`None`: its ids stay as they are).
    pub fn patch(&mut self, descriptor: &Vp8Descriptor) -> Option<Vp8Patch> {
        let picture = descriptor
            .picture_id()
            .map(|id| (id + self.picture_offset) % PICTURE_ID_MOD);
        let tl0 = descriptor
            .tl0_pic_idx()
            .map(|idx| idx.wrapping_add(self.tl0_offset));
        self.last_picture = picture.or(self.last_picture);
        self.last_tl0 = tl0.or(self.last_tl0);
        if self.picture_offset == 0 && self.tl0_offset == 0 {
            return None;
        }
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
            (picture + ids.picture_offset) % PICTURE_ID_MOD,
            tl0.wrapping_add(ids.tl0_offset),
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
}
