//! VP8 and VP9 temporal layers (RFC 7741: the payload descriptor's TID and Y bits; RFC 9628: TID
//! and U). An encoder with temporal scalability (Chrome's VP8 simulcast sends three per layer)
//! tags every frame with the temporal layer it belongs to: frames of layer 0 depend only on layer
//! 0, so dropping the higher layers halves or quarters the frame rate and the bitrate while what
//! is left still decodes.
//! A subscriber whose bandwidth estimate cannot carry even the lowest simulcast layer at its
//! full frame rate receives fewer temporal layers (see `crate::allocation`).
//!
//! The switch down takes effect at the next frame of an allowed layer (never in the middle of
//! a frame); the switch up waits for a frame that is a layer sync point (VP8's Y bit: it depends
//! only on layer 0), for the first frame after a switching-up point (VP9's U bit: later frames of
//! higher layers refer to nothing before it) or for a keyframe, since a frame of a higher layer
//! may refer to earlier frames of its layer that were dropped. The subscriber's stream stays
//! gap-free: the sequence numbers of dropped packets are taken out (`Rewriter::skip`), and for
//! VP8 the picture ids of dropped frames (`PictureIds::drop_frame`), as its decoder's reference
//! finder would otherwise wait for them. VP9's picture ids stay as they are: its receivers find
//! references by picture id distance (flexible mode's P_DIFF, or the group of frames of
//! non-flexible mode) and wait only for missing frames of lower layers.

/// A route's temporal layer limit meaning "all of them".
pub const ALL_TEMPORAL: u8 = u8::MAX;

/// What a packet tells of its temporal layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TemporalInfo {
    /// Its temporal layer (TID).
    pub tid: u8,
    /// Its frame depends only on temporal layer 0 (VP8's Y bit): its layer may start on it.
    pub layer_sync: bool,
    /// Frames of higher layers after this one refer to nothing before it (VP9's U bit).
    pub switch_up_after: bool,
    /// It is the first packet of a frame (VP8: S bit in partition 0; VP9: B bit of the base
    /// spatial layer, so a picture of several spatial layers is one unit).
    pub frame_start: bool,
}

/// The temporal layer information of a VP8 RTP payload; `None` when the descriptor carries no
/// TID (the stream has no temporal layers) or is cut short.
pub fn vp8_temporal(payload: &[u8]) -> Option<TemporalInfo> {
    let b0 = *payload.first()?;
    if b0 & 0x80 == 0 {
        return None; // no extension byte: no TID
    }
    let ext = *payload.get(1)?;
    if ext & 0x20 == 0 {
        return None; // T bit clear
    }
    let mut at = 2;
    if ext & 0x80 != 0 {
        at += if *payload.get(at)? & 0x80 != 0 { 2 } else { 1 };
    }
    if ext & 0x40 != 0 {
        at += 1; // TL0PICIDX
    }
    let tid_byte = *payload.get(at)?;
    Some(TemporalInfo {
        tid: tid_byte >> 6,
        layer_sync: tid_byte & 0x20 != 0,
        switch_up_after: false,
        frame_start: b0 & 0x10 != 0 && b0 & 0x07 == 0,
    })
}

/// The temporal layer information of a VP9 RTP payload; `None` without layer indices.
pub fn vp9_temporal(descriptor: &crate::vp9::Vp9Descriptor) -> Option<TemporalInfo> {
    Some(TemporalInfo {
        tid: descriptor.tid?,
        layer_sync: false,
        switch_up_after: descriptor.switch_up,
        frame_start: descriptor.begins_frame && descriptor.sid.unwrap_or(0) == 0,
    })
}

/// The temporal layers one subscriber receives of one track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TemporalSelection {
    /// The highest temporal layer forwarded now.
    current: u8,
    /// The highest one its bandwidth allows.
    target: u8,
    /// A switching-up point was forwarded: the next frame of a higher layer may start it.
    up_point: bool,
}

impl Default for TemporalSelection {
    fn default() -> Self {
        TemporalSelection {
            current: ALL_TEMPORAL,
            target: ALL_TEMPORAL,
            up_point: false,
        }
    }
}

impl TemporalSelection {
    /// Allows temporal layers up to `target` from now on ([`ALL_TEMPORAL`]: every one).
    pub fn set_target(&mut self, target: u8) {
        self.target = target;
    }

    /// The highest temporal layer forwarded now.
    #[cfg(test)]
    pub fn current(&self) -> u8 {
        self.current
    }

    /// Whether a packet described by `info` is forwarded; `keyframe` when it starts a keyframe
    /// (every layer may start there).
    pub fn forwards(&mut self, info: TemporalInfo, keyframe: bool) -> bool {
        if keyframe {
            self.current = self.target;
            self.up_point = false;
        } else if info.frame_start {
            if self.target < self.current && info.tid <= self.target {
                self.current = self.target;
            } else if self.current < self.target
                && info.tid > self.current
                && info.tid <= self.target
                && (info.layer_sync || self.up_point)
            {
                self.current = info.tid;
                self.up_point = false;
            }
        }
        let forwarded = info.tid <= self.current;
        if forwarded && info.frame_start && info.switch_up_after {
            self.up_point = true;
        }
        forwarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VP8 payload: 15-bit picture id, TL0PICIDX, TID and Y.
    fn packet(tid: u8, sync: bool, start: bool) -> Vec<u8> {
        vec![
            0x80 | if start { 0x10 } else { 0 },
            0xe0,
            0x80,
            0x01,
            0x07,
            (tid << 6) | if sync { 0x20 } else { 0 },
            0x11,
        ]
    }

    fn info(tid: u8, sync: bool, start: bool) -> TemporalInfo {
        vp8_temporal(&packet(tid, sync, start)).expect("temporal info")
    }

    #[test]
    fn the_descriptor_tells_the_layer() {
        assert_eq!(
            vp8_temporal(&packet(2, true, true)),
            Some(TemporalInfo {
                tid: 2,
                layer_sync: true,
                switch_up_after: false,
                frame_start: true
            })
        );
        // A 7-bit picture id and no TL0PICIDX.
        assert_eq!(
            vp8_temporal(&[0x90, 0xa0, 0x05, 0x40, 0x11]).map(|t| t.tid),
            Some(1)
        );
        assert_eq!(vp8_temporal(&[0x10, 0x11]), None, "no extension");
        assert_eq!(vp8_temporal(&[0x90, 0x80, 0x05, 0x11]), None, "no TID");
        assert_eq!(vp8_temporal(&[0x90, 0xe0, 0x80]), None, "cut short");
    }

    #[test]
    fn down_at_a_frame_up_at_a_sync_point() {
        let mut s = TemporalSelection::default();
        assert!(
            s.forwards(info(2, false, true), false),
            "all layers at first"
        );
        s.set_target(0);
        assert!(
            s.forwards(info(2, false, false), false),
            "a frame started goes on"
        );
        assert!(
            s.forwards(info(2, false, true), false),
            "the switch down waits for a frame of an allowed layer"
        );
        assert!(s.forwards(info(0, false, true), false));
        assert_eq!(s.current(), 0);
        assert!(!s.forwards(info(0, false, false).with_tid(1), false));
        assert!(!s.forwards(info(1, false, true), false));
        assert!(!s.forwards(info(2, true, true), false), "above the target");
        s.set_target(ALL_TEMPORAL);
        assert!(!s.forwards(info(2, false, true), false), "not a sync point");
        assert!(!s.forwards(info(1, false, true), false), "not a sync point");
        assert!(s.forwards(info(1, true, true), false), "layer 1 syncs");
        assert!(s.forwards(info(1, false, false), false));
        assert!(!s.forwards(info(2, false, true), false));
        assert!(s.forwards(info(2, true, true), false), "layer 2 syncs");
        assert_eq!(s.current(), 2);
        s.set_target(1);
        assert!(s.forwards(info(1, false, true), false));
        assert_eq!(s.current(), 1);
        assert!(!s.forwards(info(2, true, true), false));
        s.set_target(ALL_TEMPORAL);
        assert!(
            s.forwards(info(0, false, true), true),
            "a keyframe syncs every layer"
        );
        assert!(s.forwards(info(2, false, true), false));
    }

    #[test]
    fn vp9_goes_up_after_a_switching_up_point() {
        let frame = |tid: u8, up: bool| TemporalInfo {
            tid,
            layer_sync: false,
            switch_up_after: up,
            frame_start: true,
        };
        let mut s = TemporalSelection::default();
        s.set_target(0);
        assert!(s.forwards(frame(0, false), false));
        assert!(!s.forwards(frame(1, true), false));
        s.set_target(ALL_TEMPORAL);
        assert!(
            !s.forwards(frame(2, false), false),
            "no switching-up point yet"
        );
        assert!(s.forwards(frame(0, true), false), "a switching-up point");
        assert!(
            s.forwards(frame(2, false), false),
            "the next higher frame starts"
        );
        assert_eq!(s.current(), 2);
    }

    impl TemporalInfo {
        fn with_tid(self, tid: u8) -> TemporalInfo {
            TemporalInfo { tid, ..self }
        }
    }
}
