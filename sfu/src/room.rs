//! A room: its policy, its peers and the forwarding graph of its published tracks.

use std::collections::HashMap;

use str0m::media::{Mid, Pt};

use crate::events::{ParticipantSnapshot, TrackSnapshot};
use crate::ids::PeerId;
use crate::peer::{Peer, TrackKey};
use crate::policy::{MediaKind, RoomPolicy, Source};
use crate::rewrite::Rewriter;
use crate::speaking::SpeakingDetector;

/// One subscriber of a published track.
pub struct Route {
    /// The subscriber.
    pub sub: PeerId,
    /// Its m-line for this track.
    pub mid: Mid,
    /// Its sequence/timestamp space.
    pub rewriter: Rewriter,
    /// The Opus payload type negotiated on `mid`, looked up once on the first packet so the hot
    /// path does not hash into the subscriber's map for every packet.
    pub pt: Option<Pt>,
}

/// A track published into the room.
pub struct InTrack {
    pub track_id: String,
    /// Publisher's participant id (the `msid` stream id).
    pub participant_id: String,
    pub source: Source,
    pub kind: MediaKind,
    pub muted: bool,
    pub speaking: SpeakingDetector,
    /// Subscribers whose m-line is negotiated.
    pub routes: Vec<Route>,
}

impl InTrack {
    /// The track as others see it.
    pub fn snapshot(&self) -> TrackSnapshot {
        TrackSnapshot {
            track_id: self.track_id.clone(),
            source: self.source,
            kind: self.kind,
            muted: self.muted,
        }
    }
}

/// The peers of one room and what they publish.
pub struct Room {
    pub policy: RoomPolicy,
    /// Peers in join order.
    pub peers: Vec<PeerId>,
    pub tracks: HashMap<TrackKey, InTrack>,
}

impl Room {
    /// An empty room.
    pub fn new(policy: RoomPolicy) -> Room {
        Room {
            policy,
            peers: Vec::new(),
            tracks: HashMap::new(),
        }
    }

    /// `peer` as a joiner sees it: its tracks, whether it is speaking, what it muted.
    pub fn snapshot_of(&self, peer: &Peer) -> ParticipantSnapshot {
        let mut tracks = Vec::new();
        let mut speaking = false;
        for (_, track) in self.tracks_of(peer.id) {
            tracks.push(track.snapshot());
            speaking |= track.speaking.is_speaking();
        }
        tracks.sort_by(|a, b| a.track_id.cmp(&b.track_id));
        let mut muted: Vec<Source> = peer.muted.iter().copied().collect();
        muted.sort_by_key(|s| s.as_str());
        ParticipantSnapshot {
            info: peer.info.clone(),
            tracks,
            speaking,
            muted,
        }
    }

    /// Tracks published by `peer`.
    pub fn tracks_of(&self, peer: PeerId) -> impl Iterator<Item = (&TrackKey, &InTrack)> {
        self.tracks.iter().filter(move |(k, _)| k.publisher == peer)
    }
}
