//! A room as the engine sees it: its policy, its peers and the forwarding graph of its published
//! tracks. The roster others see (mute state, who speaks) is the rooms layer's (`crate::rooms`).

use std::collections::HashMap;
use std::time::Instant;

use str0m::format::PayloadParams;
use str0m::media::{Mid, Pt, Rid};

use crate::allocation::TEMPORAL_LAYERS;
use crate::codecs::PtMapping;

use crate::engine::Dynacast;
use crate::engine::SpeakerChange;
use crate::events::TrackSnapshot;
use crate::ids::PeerId;
use crate::keyframes::KeyframeGate;
use crate::peer::TrackKey;
use crate::picture_ids::PictureIds;
use crate::policy::{MediaKind, RoomPolicy, Source};
use crate::rewrite::Rewriter;
use crate::simulcast::{LAYER_IDLE, LayerSelection, MAX_LAYERS, order_layers};
use crate::speaking::SpeakingDetector;
use crate::temporal::TemporalSelection;
use crate::video_policy::VideoPolicy;

/// One subscriber of a published track.
pub struct Route {
    /// The subscriber.
    pub sub: PeerId,
    /// Its m-line for this track.
    pub mid: Mid,
    /// Its sequence/timestamp space.
    pub rewriter: Rewriter,
    /// The subscriber's payload type for the publisher's codec on `mid`, looked up once per
    /// source codec so the hot path does not search the subscriber's session for every packet.
    pub pt: PtMapping,
    /// The simulcast layer it receives (tracks without simulcast ignore it).
    pub layer: LayerSelection,
    /// VP8 picture ids kept continuous across layer switches and dropped frames.
    pub picture_ids: PictureIds,
    /// The VP8 temporal layers it receives.
    pub temporal: TemporalSelection,
}

impl Route {
    /// A new route on the subscriber's m-line `mid`, wanting the track's highest layer.
    pub fn new(sub: PeerId, mid: Mid, rewriter: Rewriter) -> Route {
        Route {
            sub,
            mid,
            rewriter,
            pt: PtMapping::default(),
            layer: LayerSelection::new(Some(MAX_LAYERS as u8 - 1)),
            picture_ids: PictureIds::default(),
            temporal: TemporalSelection::default(),
        }
    }
}

/// A track published into the room.
pub struct InTrack {
    pub track_id: String,
    /// Publisher's participant id (the `msid` stream id).
    pub participant_id: String,
    pub source: Source,
    pub kind: MediaKind,
    pub speaking: SpeakingDetector,
    /// The codec of the publisher's last payload type (`None`: not one its session knows).
    pub codec: Option<(Pt, Option<PayloadParams>)>,
    /// Keyframe requests toward the publisher (video), per simulcast layer.
    pub keyframes: [KeyframeGate; MAX_LAYERS],
    /// Its simulcast layers, low to high (empty: not simulcast), known from its first packet;
    /// at most the room's `max_simulcast_layers`, the lowest of those offered.
    pub layers: Vec<Rid>,
    /// How many layers the publisher offered.
    pub offered_layers: usize,
    /// Each layer's frame size, from its last keyframe where the codec tells (VP8).
    pub layer_sizes: [Option<(u32, u32)>; MAX_LAYERS],
    /// When each layer's last packet arrived.
    pub layer_seen: [Option<Instant>; MAX_LAYERS],
    /// The highest layer the publisher sends now (it may stop a layer when its bandwidth drops).
    pub active_top: u8,
    /// Bytes received per layer since the last measurement.
    pub layer_bytes: [u64; MAX_LAYERS],
    /// Bytes of the lowest layer received per VP8 temporal layer (TID 0-2) since the last
    /// measurement.
    pub temporal_bytes: [u64; TEMPORAL_LAYERS],
    /// The lowest layer's bitrate up to each temporal layer, smoothed as `layer_cost` is (all 0:
    /// it has no temporal layers).
    pub temporal_cost: [u64; TEMPORAL_LAYERS],
    /// Bitrate per layer at the last measurement, bits per second.
    pub layer_bps: [u64; MAX_LAYERS],
    /// Each layer's bitrate, smoothed over the measurements taken while it was sent (a paused
    /// layer keeps its cost; a keyframe burst does not make it look expensive).
    pub layer_cost: [u64; MAX_LAYERS],
    /// The highest layer within the source's bitrate cap (all layers up to it together).
    pub cap_top: u8,
    /// What its publisher was told to send (dynacast).
    pub dynacast: Dynacast,
    /// When the publisher was last told the track's bitrate cap (video).
    pub cap_sent_at: Option<Instant>,
    /// Subscribers whose m-line is negotiated.
    pub routes: Vec<Route>,
}

impl InTrack {
    /// The layer of a packet with `rid` (`declared`: the rids of the publisher's SDP, read once),
    /// and the highest layer. `(0, 0)` without simulcast; `None` for a rid it did not declare.
    pub fn layer_of(
        &mut self,
        rid: Option<Rid>,
        declared: impl FnOnce() -> Vec<Rid>,
        max_layers: usize,
    ) -> Option<(u8, u8)> {
        let Some(rid) = rid else {
            return Some((0, 0));
        };
        if self.layers.is_empty() {
            // The room's limit keeps the lowest layers; the others are not forwarded.
            let offered = order_layers(&declared());
            self.offered_layers = offered.len();
            self.layers = offered.into_iter().take(max_layers.max(1)).collect();
        }
        let layer = self.layers.iter().position(|r| *r == rid)?;
        Some((layer as u8, self.layers.len().saturating_sub(1) as u8))
    }

    /// The highest layer forwarded now: sent by the publisher and within the bitrate cap (0
    /// without simulcast).
    pub fn top_layer(&self) -> u8 {
        self.active_top.min(self.cap_top)
    }

    /// The highest layer that may be forwarded at all: offered, allowed, within the cap.
    pub fn allowed_top(&self) -> u8 {
        (self.layers.len().saturating_sub(1) as u8).min(self.cap_top)
    }

    /// Takes the layers' new bitrates, and recomputes the highest layer whose layers together
    /// fit `cap_bps` (the lowest always does).
    pub fn measured(
        &mut self,
        bps: [u64; MAX_LAYERS],
        temporal_bps: [u64; TEMPORAL_LAYERS],
        cap_bps: u64,
    ) {
        self.layer_bps = bps;
        for (cost, now) in self.layer_cost.iter_mut().zip(bps) {
            smooth(cost, now);
        }
        if bps[0] > 0 && temporal_bps[0] == 0 {
            // The lowest layer is sent without temporal layers (now).
            self.temporal_cost = [0; TEMPORAL_LAYERS];
        }
        let mut cumulative = 0;
        for (cost, now) in self.temporal_cost.iter_mut().zip(temporal_bps) {
            if now > 0 {
                cumulative += now;
                smooth(cost, cumulative);
            }
        }
        if self.layers.is_empty() {
            return;
        }
        let mut total = 0;
        let mut top = 0;
        for (layer, cost) in self.layer_cost.iter().enumerate().take(self.layers.len()) {
            total += cost;
            // 10% over the cap is still within it: encoders overshoot their targets a little.
            if layer > 0 && total > cap_bps + cap_bps / 10 {
                break;
            }
            top = layer as u8;
        }
        self.cap_top = top;
    }

    /// A packet of `layer` arrived at `now`. Returns the highest layer sent within
    /// [`LAYER_IDLE`], and whether that changed.
    pub fn layer_active(&mut self, layer: u8, now: Instant) -> (u8, bool) {
        if let Some(seen) = self.layer_seen.get_mut(usize::from(layer)) {
            *seen = Some(now);
        }
        let top = (0..self.layers.len().min(MAX_LAYERS))
            .rev()
            .find(|l| {
                self.layer_seen[*l].is_some_and(|t| now.saturating_duration_since(t) < LAYER_IDLE)
            })
            .map_or(layer, |l| l as u8);
        let changed = top.min(self.cap_top) != self.active_top.min(self.cap_top);
        self.active_top = top;
        (top.min(self.cap_top), changed)
    }

    /// The rid of `layer` (`None` without simulcast).
    pub fn rid_of(&self, layer: u8) -> Option<Rid> {
        self.layers.get(usize::from(layer)).copied()
    }

    /// The codec of the publisher's payload type `pt`, looked up in its session (`lookup`) when
    /// `pt` changes.
    pub fn codec_of(
        &mut self,
        pt: Pt,
        lookup: impl FnOnce() -> Option<PayloadParams>,
    ) -> Option<PayloadParams> {
        match self.codec {
            Some((known, params)) if known == pt => params,
            _ => {
                let params = lookup();
                self.codec = Some((pt, params));
                params
            }
        }
    }

    /// The track as others see it (`muted` is filled in by the rooms layer, which keeps the
    /// publishers' mute state).
    pub fn snapshot(&self) -> TrackSnapshot {
        TrackSnapshot {
            track_id: self.track_id.clone(),
            source: self.source,
            kind: self.kind,
            muted: false,
        }
    }
}

/// Exponential smoothing over about four measurements (2 s); a layer not sent (`now` 0) keeps
/// its cost.
fn smooth(cost: &mut u64, now: u64) {
    if now > 0 {
        *cost = if *cost == 0 {
            now
        } else {
            (*cost * 3 + now) / 4
        };
    }
}

/// The peers of one room and what they publish.
pub struct Room {
    pub policy: RoomPolicy,
    /// Peers in join order.
    pub peers: Vec<PeerId>,
    pub tracks: HashMap<TrackKey, InTrack>,
    /// Speaking changes since the last batch (see `EngineEvent::Speakers`).
    pub speaker_changes: Vec<SpeakerChange>,
}

impl Room {
    /// An empty room.
    pub fn new(policy: RoomPolicy) -> Room {
        Room {
            policy,
            peers: Vec::new(),
            tracks: HashMap::new(),
            speaker_changes: Vec::new(),
        }
    }

    /// Whether `peer` may publish video: it already does, or fewer than the policy's limit of
    /// participants publish video in this room.
    pub fn may_publish_video(&self, peer: PeerId, video: &VideoPolicy) -> bool {
        let mut publishers: Vec<PeerId> = self
            .tracks
            .iter()
            .filter(|(_, t)| t.kind == MediaKind::Video)
            .map(|(k, _)| k.publisher)
            .collect();
        publishers.sort_unstable();
        publishers.dedup();
        publishers.contains(&peer) || publishers.len() < video.max_video_publishers
    }

    /// Tracks published by `peer`.
    pub fn tracks_of(&self, peer: PeerId) -> impl Iterator<Item = (&TrackKey, &InTrack)> {
        self.tracks.iter().filter(move |(k, _)| k.publisher == peer)
    }
}
