//! Payload types across sessions. A publisher's packets carry the payload type of *its* session;
//! each subscriber's m-line may number the same codec differently, or not have it at all. The
//! sfu never transcodes: a packet goes out under the subscriber's payload type for the same codec
//! (same clock rate and, for H.264, the same profile and packetization mode), or not at all.

use str0m::Rtc;
use str0m::format::{
    Codec, CodecConfig, PayloadParams, detect_h264_keyframe, detect_vp8_keyframe,
    detect_vp9_keyframe,
};
use str0m::media::{Mid, Pt};

/// The codec behind payload type `pt` in `rtc`'s session.
pub fn params_of(rtc: &Rtc, pt: Pt) -> Option<PayloadParams> {
    rtc.codec_config().find(|p| p.pt() == pt).copied()
}

/// The payload type under which the peer of `rtc` receives the codec `params` on `mid`: the best
/// match among the formats negotiated on that m-line; `None` when it negotiated none of them.
pub fn outgoing_pt(rtc: &Rtc, mid: Mid, params: PayloadParams) -> Option<Pt> {
    let negotiated: Vec<PayloadParams> = rtc
        .media(mid)?
        .remote_pts()
        .iter()
        .filter_map(|pt| params_of(rtc, *pt))
        .collect();
    CodecConfig::new_from_payload_params(negotiated)
        .match_params(params)
        .map(|p| p.pt())
}

/// Whether an RTP payload of `codec` starts a keyframe (a layer switch may happen on it).
pub fn starts_keyframe(codec: Codec, payload: &[u8]) -> bool {
    match codec {
        Codec::Vp8 => detect_vp8_keyframe(payload),
        Codec::H264 => detect_h264_keyframe(payload),
        // The first packet of the base spatial layer (str0m's check is the P bit alone, which
        // every packet of a keyframe, and an SVC keyframe's upper layers, carry).
        Codec::Vp9 => {
            detect_vp9_keyframe(payload)
                && crate::vp9::Vp9Descriptor::parse(payload).is_some_and(|d| d.starts_keyframe())
        }
        _ => false,
    }
}

/// A route's payload type mapping, kept so the hot path looks it up once per source codec:
/// the publisher's payload type and what it maps to for this subscriber (`None`: the subscriber
/// cannot receive that codec).
#[derive(Clone, Copy, Debug, Default)]
pub struct PtMapping {
    cached: Option<(Pt, Option<Pt>)>,
}

/// The outcome of [`PtMapping::map`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mapped {
    /// Send under this payload type.
    Pt(Pt),
    /// The subscriber cannot receive the codec; `first` on the first packet that found out.
    Unsupported { first: bool },
}

impl PtMapping {
    /// The outgoing payload type for incoming `pt`, computed by `lookup` when `pt` differs from
    /// the last one seen.
    pub fn map(&mut self, pt: Pt, lookup: impl FnOnce() -> Option<Pt>) -> Mapped {
        let (to, first) = match self.cached {
            Some((from, to)) if from == pt => (to, false),
            _ => {
                let to = lookup();
                self.cached = Some((pt, to));
                (to, true)
            }
        };
        match to {
            Some(pt) => Mapped::Pt(pt),
            None => Mapped::Unsupported { first },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_is_looked_up_once_per_source_payload_type() {
        let (a, b, out) = (
            Pt::new_with_value(96),
            Pt::new_with_value(102),
            Pt::new_with_value(120),
        );
        let mut mapping = PtMapping::default();
        let mut lookups = 0;
        let mut lookup = |to| {
            lookups += 1;
            to
        };
        assert_eq!(mapping.map(a, || lookup(Some(out))), Mapped::Pt(out));
        assert_eq!(mapping.map(a, || lookup(None)), Mapped::Pt(out), "cached");
        assert_eq!(
            mapping.map(b, || lookup(None)),
            Mapped::Unsupported { first: true }
        );
        assert_eq!(
            mapping.map(b, || lookup(None)),
            Mapped::Unsupported { first: false }
        );
        assert_eq!(lookups, 2);
    }
}
