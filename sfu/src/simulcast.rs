//! Simulcast: a publisher sends one video track as up to three encodings ("layers", by RTP stream
//! id); each subscriber receives one of them, chosen per subscriber.
//!
//! Layers are ordered low to high by their rid (`q` < `h` < `f`, `l` < `m` < `h`, `0` < `1` < `2`,
//! as LiveKit's, mediasoup's and most apps' clients name them); rids that follow no known scheme
//! keep the order of the publisher's `a=simulcast` line. A subscriber switches to another layer
//! only on that layer's keyframe (its decoder cannot start elsewhere) and keeps the current layer
//! until then; its outgoing stream stays one stream across switches (see `rewrite.rs`).

use str0m::media::Rid;

/// Most layers a track may have.
pub const MAX_LAYERS: usize = 3;

/// A layer without a packet for this long is not sent any more (the publisher dropped it, short
/// of bandwidth): subscribers that want more get the highest layer still sent.
pub const LAYER_IDLE: std::time::Duration = std::time::Duration::from_secs(1);

/// The rank of a rid among the usual naming schemes (`None`: no known scheme).
fn known_rank(rid: &str) -> Option<u8> {
    match rid.to_ascii_lowercase().as_str() {
        "q" | "l" | "low" | "0" => Some(0),
        "h" | "m" | "mid" | "medium" | "1" => Some(1),
        "f" | "high" | "full" | "2" => Some(2),
        _ => None,
    }
}

/// The layers of a track, low to high, from the rids the publisher declared (in its order).
pub fn order_layers(declared: &[Rid]) -> Vec<Rid> {
    let mut layers: Vec<Rid> = declared.iter().take(MAX_LAYERS).copied().collect();
    // `h` means "half" beside `q`/`f` and "high" beside `l`/`m`.
    let high_h = layers.iter().any(|r| matches!(&**r, "l" | "m"));
    let rank = |rid: &Rid| -> Option<u8> {
        if high_h && rid.eq_ignore_ascii_case("h") {
            return Some(2);
        }
        known_rank(rid)
    };
    if layers.iter().all(|r| rank(r).is_some()) {
        layers.sort_by_key(|r| rank(r));
    }
    layers
}

/// How a subscriber shows a track, which decides the layer it receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackView {
    /// Not shown: nothing is forwarded.
    Paused,
    /// This layer (0 = lowest; above the highest means the highest).
    Layer(u8),
    /// Rendered at this size (pixels): the lowest layer at least this tall (or wide), else the
    /// highest.
    Size { width: u32, height: u32 },
}

/// Heights assumed for the layers of a track whose keyframes did not tell (a 720p camera sent
/// as quarter, half and full size).
const ASSUMED_HEIGHTS: [u32; MAX_LAYERS] = [180, 360, 720];

/// The layer a subscriber showing a track as `view` wants; `sizes` are the layers' sizes
/// (width, height) where known, `top` the highest layer.
pub fn layer_for(view: TrackView, sizes: &[Option<(u32, u32)>], top: u8) -> Option<u8> {
    match view {
        TrackView::Paused => None,
        TrackView::Layer(layer) => Some(layer.min(top)),
        TrackView::Size { width, height } => {
            let fits = |layer: u8| {
                // Assumed sizes count from the top: two layers are half and full size.
                let below_top = usize::from(top.saturating_sub(layer)).min(MAX_LAYERS - 1);
                let assumed = ASSUMED_HEIGHTS[MAX_LAYERS - 1 - below_top];
                let (w, h) = sizes
                    .get(usize::from(layer))
                    .copied()
                    .flatten()
                    .unwrap_or((assumed * 16 / 9, assumed));
                // 10% below the rendered size still looks sharp.
                u64::from(w) * 10 >= u64::from(width) * 9
                    && u64::from(h) * 10 >= u64::from(height) * 9
            };
            Some((0..=top).find(|l| fits(*l)).unwrap_or(top))
        }
    }
}

/// What to do with one packet for one subscriber.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Forward it.
    Forward,
    /// Forward it: it is the keyframe this subscriber switches layers on.
    Switch,
    /// Not for this subscriber.
    Drop,
}

/// What the subscriber's bandwidth allows of a track (see `crate::allocation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allowance {
    /// No estimate yet: whatever it wants.
    Unlimited,
    /// Up to this layer.
    UpTo(u8),
    /// Nothing: not even the lowest layer fits.
    Nothing,
}

/// The layer one subscriber receives of one track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerSelection {
    /// The layer forwarded now (`None` before the first keyframe).
    current: Option<u8>,
    /// The layer its view wants (`None`: paused, nothing is forwarded).
    target: Option<u8>,
    /// What its bandwidth allows.
    allowance: Allowance,
}

impl LayerSelection {
    /// A selection that wants `target`.
    pub fn new(target: Option<u8>) -> LayerSelection {
        LayerSelection {
            current: None,
            target,
            allowance: Allowance::Unlimited,
        }
    }

    /// The layer forwarded now.
    #[cfg(test)]
    pub fn current(&self) -> Option<u8> {
        self.current
    }

    /// Wants `target` from now on, of a track whose highest layer is `top`. Returns the layer
    /// whose keyframe is needed (`None`: it is forwarded already, or this is a pause, which takes
    /// effect at once).
    pub fn set_target(&mut self, target: Option<u8>, top: u8) -> Option<u8> {
        self.target = target;
        let wanted = self.wanted(top);
        if wanted.is_none() {
            self.current = None;
        }
        wanted.filter(|layer| Some(*layer) != self.current)
    }

    /// What the bandwidth allows from now on. Returns the layer whose keyframe is needed, as
    /// [`LayerSelection::set_target`] does.
    pub fn set_allowance(&mut self, allowance: Allowance, top: u8) -> Option<u8> {
        self.allowance = allowance;
        let wanted = self.wanted(top);
        if wanted.is_none() {
            self.current = None;
        }
        wanted.filter(|layer| Some(*layer) != self.current)
    }

    /// Whether its view is paused (nothing of the track is forwarded, simulcast or not).
    pub fn is_paused(&self) -> bool {
        self.target.is_none()
    }

    /// The layer its view wants of a track whose highest layer is `top`, whatever the
    /// bandwidth.
    pub fn viewed(&self, top: u8) -> Option<u8> {
        self.target.map(|t| t.min(top))
    }

    /// The layer wanted of a track whose highest layer is `top`: what the view wants, within
    /// what the bandwidth allows.
    pub fn wanted(&self, top: u8) -> Option<u8> {
        let viewed = self.viewed(top)?;
        match self.allowance {
            Allowance::Unlimited => Some(viewed),
            Allowance::UpTo(layer) => Some(viewed.min(layer)),
            Allowance::Nothing => None,
        }
    }

    /// Decides for a packet of `layer` of a track whose highest layer is `top`; `keyframe` when
    /// the packet starts a keyframe.
    pub fn on_packet(&mut self, layer: u8, top: u8, keyframe: bool) -> Verdict {
        let Some(wanted) = self.wanted(top) else {
            return Verdict::Drop;
        };
        if layer == wanted && self.current != Some(wanted) && keyframe {
            self.current = Some(wanted);
            return Verdict::Switch;
        }
        if self.current == Some(layer) {
            Verdict::Forward
        } else {
            Verdict::Drop
        }
    }
}

/// The size of a VP8 keyframe from the RTP payload of its first packet (RFC 7741 descriptor, then
/// RFC 6386 9.1 frame header); `None` for anything else.
pub fn vp8_keyframe_size(payload: &[u8]) -> Option<(u32, u32)> {
    let b0 = *payload.first()?;
    let mut at = 1;
    if b0 & 0x80 != 0 {
        let ext = *payload.get(at)?;
        at += 1;
        if ext & 0x80 != 0 {
            // Picture id: 7 or 15 bits.
            at += if *payload.get(at)? & 0x80 != 0 { 2 } else { 1 };
        }
        if ext & 0x40 != 0 {
            at += 1; // TL0PICIDX
        }
        if ext & 0x30 != 0 {
            at += 1; // TID / KEYIDX
        }
    }
    let frame = payload.get(at..at + 10)?;
    let keyframe = frame[0] & 0x01 == 0;
    if !keyframe || frame[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u32::from(u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff);
    let height = u32::from(u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff);
    Some((width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rids(names: &[&str]) -> Vec<Rid> {
        names.iter().map(|n| Rid::from(*n)).collect()
    }

    #[test]
    fn layers_are_ordered_low_to_high_by_name() {
        assert_eq!(
            order_layers(&rids(&["f", "h", "q"])),
            rids(&["q", "h", "f"])
        );
        assert_eq!(
            order_layers(&rids(&["h", "l", "m"])),
            rids(&["l", "m", "h"])
        );
        assert_eq!(
            order_layers(&rids(&["2", "0", "1"])),
            rids(&["0", "1", "2"])
        );
        assert_eq!(
            order_layers(&rids(&["big", "small"])),
            rids(&["big", "small"]),
            "unknown names keep the publisher's order"
        );
    }

    #[test]
    fn a_switch_waits_for_the_target_layers_keyframe() {
        let mut s = LayerSelection::new(Some(2));
        assert_eq!(s.on_packet(2, 2, false), Verdict::Drop, "no keyframe yet");
        assert_eq!(s.on_packet(0, 2, true), Verdict::Drop, "not the target");
        assert_eq!(s.on_packet(2, 2, true), Verdict::Switch);
        assert_eq!(s.on_packet(2, 2, false), Verdict::Forward);
        assert_eq!(
            s.set_target(Some(0), 2),
            Some(0),
            "a keyframe of layer 0 is needed"
        );
        assert_eq!(
            s.on_packet(2, 2, false),
            Verdict::Forward,
            "the old layer until then"
        );
        assert_eq!(s.on_packet(0, 2, false), Verdict::Drop);
        assert_eq!(s.on_packet(0, 2, true), Verdict::Switch);
        assert_eq!(
            s.on_packet(2, 2, true),
            Verdict::Drop,
            "the old layer no more"
        );
        assert_eq!(s.current(), Some(0));
        assert_eq!(s.set_target(None, 2), None);
        assert_eq!(s.on_packet(0, 2, true), Verdict::Drop, "paused");
    }

    #[test]
    fn a_rendered_size_picks_the_lowest_layer_that_fits() {
        let measured = [Some((320, 180)), Some((640, 360)), Some((1280, 720))];
        let size = |width, height| TrackView::Size { width, height };
        assert_eq!(layer_for(size(320, 180), &measured, 2), Some(0));
        assert_eq!(layer_for(size(300, 170), &measured, 2), Some(0));
        assert_eq!(layer_for(size(640, 300), &measured, 2), Some(1));
        assert_eq!(
            layer_for(size(1920, 1080), &measured, 2),
            Some(2),
            "the highest"
        );
        assert_eq!(layer_for(TrackView::Paused, &measured, 2), None);
        assert_eq!(layer_for(TrackView::Layer(5), &measured, 2), Some(2));
        // Unknown sizes: a 720p camera's quarter, half and full size; two layers are half and full.
        assert_eq!(layer_for(size(320, 180), &[], 2), Some(0));
        assert_eq!(layer_for(size(320, 180), &[], 1), Some(0));
        assert_eq!(layer_for(size(1280, 720), &[], 1), Some(1));
    }

    /// VP8 keyframe, picture id present (2 bytes), 640x360.
    #[test]
    fn a_vp8_keyframe_tells_its_size() {
        let payload = [
            0x90, 0x80, 0x81, 0x23, // descriptor: X, S; I; 15-bit picture id
            0x50, 0x01, 0x00, // frame tag: keyframe
            0x9d, 0x01, 0x2a, // start code
            0x80, 0x02, 0x68, 0x01, // 640, 360 (14 bits each, scale bits clear)
        ];
        assert_eq!(vp8_keyframe_size(&payload), Some((640, 360)));
        assert_eq!(vp8_keyframe_size(&payload[..9]), None, "cut short");
    }

    #[test]
    fn the_bandwidth_allowance_caps_the_view() {
        let mut s = LayerSelection::new(Some(2));
        assert_eq!(s.on_packet(2, 2, true), Verdict::Switch);
        assert_eq!(s.set_allowance(Allowance::UpTo(1), 2), Some(1));
        assert_eq!(s.on_packet(1, 2, true), Verdict::Switch);
        assert_eq!(s.set_allowance(Allowance::Nothing, 2), None);
        assert_eq!(s.on_packet(1, 2, true), Verdict::Drop, "nothing fits");
        assert_eq!(s.viewed(2), Some(2), "the view stays");
        assert_eq!(s.set_allowance(Allowance::Unlimited, 2), Some(2));
    }

    #[test]
    fn a_target_above_the_tracks_layers_is_its_highest() {
        let mut s = LayerSelection::new(Some(2));
        assert_eq!(
            s.on_packet(1, 1, true),
            Verdict::Switch,
            "two layers: 1 is the top"
        );
        assert_eq!(s.set_target(Some(2), 1), None, "already there");
    }
}
