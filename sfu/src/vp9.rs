//! The VP9 RTP payload descriptor (RFC 9628 section 4.2): what the forwarding path reads of it
//! (picture id, TL0PICIDX, temporal layer, frame and keyframe starts) and the rewrite of its ids
//! for a subscriber whose stream moved to another simulcast layer (each layer numbers its
//! pictures on its own; see `picture_ids.rs`). str0m has no in-place patch for VP9 as it has
//! for VP8, so a rewritten packet is a copy of the payload, made only for a subscriber whose ids
//! are shifted.

use std::sync::Arc;

/// What one VP9 packet's descriptor says, with where its ids sit in the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vp9Descriptor {
    /// The picture id, its offset in the payload and whether it is the 15-bit form.
    picture: Option<(u16, usize, bool)>,
    /// TL0PICIDX (non-flexible mode with layer indices) and its offset.
    tl0: Option<(u8, usize)>,
    /// Temporal layer (TID), with layer indices present.
    pub tid: Option<u8>,
    /// Spatial layer (SID), with layer indices present.
    pub sid: Option<u8>,
    /// U: a switching-up point (frames of higher temporal layers after it refer to nothing
    /// before it).
    pub switch_up: bool,
    /// B: the packet starts a layer frame.
    pub begins_frame: bool,
    /// P clear: the picture is not predicted from an earlier one.
    pub independent: bool,
}

impl Vp9Descriptor {
    /// Parses the descriptor at the start of `payload`; `None` when it is cut short.
    pub fn parse(payload: &[u8]) -> Option<Vp9Descriptor> {
        let b0 = *payload.first()?;
        let (has_picture, predicted, has_layers, flexible) = (
            b0 & 0x80 != 0,
            b0 & 0x40 != 0,
            b0 & 0x20 != 0,
            b0 & 0x10 != 0,
        );
        let mut at = 1;
        let picture = if has_picture {
            let first = *payload.get(at)?;
            let long = first & 0x80 != 0;
            let value = if long {
                (u16::from(first & 0x7f) << 8) | u16::from(*payload.get(at + 1)?)
            } else {
                u16::from(first & 0x7f)
            };
            let offset = at;
            at += if long { 2 } else { 1 };
            Some((value, offset, long))
        } else {
            None
        };
        let (mut tid, mut sid, mut tl0, mut switch_up) = (None, None, None, false);
        if has_layers {
            let layers = *payload.get(at)?;
            tid = Some(layers >> 5);
            switch_up = layers & 0x10 != 0;
            sid = Some((layers >> 1) & 0x07);
            at += 1;
            if !flexible {
                tl0 = Some((*payload.get(at)?, at));
                at += 1;
            }
        }
        if at >= payload.len() {
            return None;
        }
        Some(Vp9Descriptor {
            picture,
            tl0,
            tid,
            sid,
            switch_up,
            begins_frame: b0 & 0x08 != 0,
            independent: !predicted,
        })
    }

    /// The picture id.
    pub fn picture_id(&self) -> Option<u16> {
        self.picture.map(|(value, _, _)| value)
    }

    /// TL0PICIDX.
    pub fn tl0_pic_idx(&self) -> Option<u8> {
        self.tl0.map(|(value, _)| value)
    }

    /// Whether the packet starts a keyframe: the first packet of an independent picture's
    /// base spatial layer.
    pub fn starts_keyframe(&self) -> bool {
        self.independent && self.begins_frame && self.sid.unwrap_or(0) == 0
    }

    /// A copy of `payload` (the one this descriptor was parsed from) carrying `picture` and
    /// `tl0` (a 7-bit picture id keeps its low 7 bits).
    pub fn rewritten(&self, payload: &[u8], picture: Option<u16>, tl0: Option<u8>) -> Arc<[u8]> {
        let mut copy = payload.to_vec();
        if let (Some((_, at, long)), Some(id)) = (self.picture, picture) {
            if long {
                copy[at] = 0x80 | ((id >> 8) as u8 & 0x7f);
                copy[at + 1] = id as u8;
            } else {
                copy[at] = id as u8 & 0x7f;
            }
        }
        if let (Some((_, at)), Some(idx)) = (self.tl0, tl0) {
            copy[at] = idx;
        }
        copy.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_rewrites_the_ids() {
        // I, L, B; 15-bit picture id 0x1234; TID 2, U, SID 0; TL0PICIDX 9; then the frame.
        let payload = [0xa8, 0x92, 0x34, 0x50, 0x09, 0xaa, 0xbb];
        let d = Vp9Descriptor::parse(&payload).expect("descriptor");
        assert_eq!(d.picture_id(), Some(0x1234));
        assert_eq!(d.tl0_pic_idx(), Some(9));
        assert_eq!((d.tid, d.sid, d.switch_up), (Some(2), Some(0), true));
        assert!(d.begins_frame && d.starts_keyframe());
        let copy = d.rewritten(&payload, Some(0x0102), Some(200));
        assert_eq!(&copy[..], &[0xa8, 0x81, 0x02, 0x50, 200, 0xaa, 0xbb]);
        let again = Vp9Descriptor::parse(&copy).expect("descriptor");
        assert_eq!(again.picture_id(), Some(0x0102));

        // 7-bit id, flexible mode (no TL0PICIDX), predicted, not a frame start.
        let short = [0xf0, 0x05, 0x20, 0x01];
        let d = Vp9Descriptor::parse(&short).expect("descriptor");
        assert_eq!((d.picture_id(), d.tl0_pic_idx()), (Some(5), None));
        assert!(!d.starts_keyframe());
        assert_eq!(
            &d.rewritten(&short, Some(0x1ff), Some(3))[..],
            &[0xf0, 0x7f, 0x20, 0x01]
        );

        // An upper spatial layer of a keyframe is not its start.
        let upper = [0x28, 0x02, 0x00, 0x01];
        assert!(!Vp9Descriptor::parse(&upper).expect("d").starts_keyframe());
        assert_eq!(Vp9Descriptor::parse(&[0x80]), None, "cut short");
        assert_eq!(Vp9Descriptor::parse(&[0xa0, 0x92, 0x34, 0x50]), None);
    }
}
