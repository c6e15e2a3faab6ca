//! Peers joining and leaving rooms, publishing and unpublishing tracks, grants changing.

use std::collections::HashMap;
use std::time::Instant;

use rand::Rng;
use rand::distr::Alphanumeric;
use str0m::bwe::Bitrate;
use str0m::ice::IceCreds;
use str0m::media::Mid;
use str0m::rtp::Extension;
use str0m::{Candidate, Rtc, RtcConfig};

use super::{Engine, EngineEvent};
use crate::error::ErrorCode;
use crate::events::{LeaveReason, PeerEvent};
use crate::ids::PeerId;
use crate::peer::{Peer, SubState, TrackKey};
use crate::policy::{Grants, MediaKind, RoomKind, Source};
use crate::rewrite::Rewriter;
use crate::room::{InTrack, Room};
use crate::sfu::JoinRequest;
use crate::simulcast::MAX_LAYERS;
use crate::speaking::SpeakingDetector;
use crate::video_policy::VideoCodec;

/// Header extension ids of voice rooms (the ids browsers and str0m use by default).
const AUDIO_LEVEL_EXT_ID: u8 = 1;
const MID_EXT_ID: u8 = 4;

/// Limits a voice room peer to the header extensions the sfu reads or the client needs: the
/// RFC 6464 audio level (the speaking detector reads it and it is forwarded) and the BUNDLE mid.
///
/// str0m's default map also offers transport-wide congestion control, abs-send-time, rid and
/// video orientation. None of them serve Opus here (audio is neither paced nor bandwidth
/// estimated), and transport-cc costs the most: every subscriber would send transport-cc
/// feedback the worker must decrypt and parse, and every forwarded packet would be registered
/// for it. Video rooms keep the default map (the clients' video bandwidth estimation uses it).
fn voice_extensions(builder: RtcConfig) -> RtcConfig {
    builder
        .clear_extension_map()
        .set_extension(AUDIO_LEVEL_EXT_ID, Extension::AudioLevel)
        .set_extension(MID_EXT_ID, Extension::RtpMid)
}

/// The bandwidth a video room's subscriber is assumed to have before its estimator knows better:
/// enough for a camera's middle layer; the highest needs the estimator to find more.
const INITIAL_ESTIMATE_KBPS: u64 = 1_000;

fn random_token(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

impl Engine {
    fn new_rtc(&self, kind: RoomKind, ufrag: &str, now: Instant) -> Option<Rtc> {
        let mut builder = Rtc::builder()
            .set_rtp_mode(true)
            .set_ice_lite(true)
            .clear_codecs()
            .enable_opus(true, false)
            .set_dtls_cert(self.cert.clone())
            .set_local_ice_credentials(IceCreds {
                ufrag: ufrag.to_string(),
                pass: random_token(32),
            });
        builder = match kind {
            RoomKind::Video => {
                let mut builder = builder;
                for codec in &self.config.video.codecs {
                    builder = match codec {
                        VideoCodec::Vp8 => builder.enable_vp8(true),
                        VideoCodec::H264 => builder.enable_h264(true),
                        VideoCodec::Vp9 => builder.enable_vp9(true),
                    };
                }
                // Subscribers' bandwidth decides their simulcast layers (`engine/allocate.rs`).
                builder.enable_bwe(Some(Bitrate::kbps(INITIAL_ESTIMATE_KBPS)))
            }
            RoomKind::Voice => voice_extensions(builder),
        };
        let mut rtc = builder.build(now);
        let candidate = Candidate::host(self.advertised, "udp").ok()?;
        rtc.add_local_candidate(candidate)?;
        Some(rtc)
    }

    pub(super) fn add_peer(&mut self, id: PeerId, request: JoinRequest, now: Instant) {
        let ufrag = loop {
            let candidate = random_token(16);
            if !self.by_ufrag.contains_key(&candidate) {
                break candidate;
            }
        };
        let Some(rtc) = self.new_rtc(request.policy.kind, &ufrag, now) else {
            self.events.send_to_peer(
                id,
                PeerEvent::Error {
                    code: ErrorCode::Internal,
                    message: "media plane could not create the connection".into(),
                    fatal: true,
                },
            );
            return;
        };
        let room = self
            .rooms
            .entry(request.room.clone())
            .or_insert_with(|| Room::new(request.policy.clone()));
        let mut peer = Peer::new(
            id,
            request.room.clone(),
            request.participant,
            request.grants,
            rtc,
            ufrag.clone(),
            now,
        );
        for key in room.tracks.keys() {
            peer.subs.insert(key.clone(), SubState::ToOpen);
        }
        self.events.push(EngineEvent::PeerJoined { peer: id });
        room.peers.push(id);
        tracing::debug!(peer = %id, room = %request.room, participant = %peer.info.participant_id, "peer joined");
        self.by_ufrag.insert(ufrag, id);
        self.peers.insert(id, peer);
        self.drain_peer(id);
    }

    pub(super) fn remove_peer(&mut self, id: PeerId, reason: LeaveReason) {
        let Some(mut peer) = self.peers.remove(&id) else {
            return;
        };
        self.by_ufrag.remove(&peer.ufrag);
        self.by_addr.retain(|_, p| *p != id);
        let room_id = peer.room.clone();
        let published: Vec<TrackKey> = self
            .rooms
            .get(&room_id)
            .map(|r| r.tracks_of(id).map(|(k, _)| k.clone()).collect())
            .unwrap_or_default();
        for key in published {
            self.unpublish_track(&room_id, &key);
        }
        if let Some(room) = self.rooms.get_mut(&room_id) {
            room.peers.retain(|p| *p != id);
            room.speaker_changes.retain(|c| c.publisher != id);
            for track in room.tracks.values_mut() {
                track.routes.retain(|r| r.sub != id);
            }
            if room.peers.is_empty() {
                tracing::debug!(room = %room_id, "room closed");
                self.rooms.remove(&room_id);
            }
        }
        self.events.push(EngineEvent::PeerLeft { peer: id, reason });
        peer.rtc.disconnect();
        tracing::debug!(peer = %id, room = %room_id, reason = reason.as_str(), "peer left");
    }

    /// Makes the publishing set of `id` equal to `wanted`, publishing and unpublishing tracks.
    /// Before its media connects a peer's tracks are only recorded: [`publish_declared_tracks`]
    /// announces them on `Event::Connected`.
    ///
    /// [`publish_declared_tracks`]: Engine::publish_declared_tracks
    pub(super) fn reconcile_publishing(&mut self, id: PeerId, wanted: HashMap<Mid, Source>) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if !peer.connected {
            peer.publishing = wanted;
            return;
        }
        let old = std::mem::replace(&mut peer.publishing, wanted.clone());
        let room_id = peer.room.clone();
        for (mid, source) in &wanted {
            if old.get(mid) != Some(source) {
                if old.contains_key(mid) {
                    self.unpublish_track(
                        &room_id,
                        &TrackKey {
                            publisher: id,
                            mid: *mid,
                        },
                    );
                }
                self.publish_track(id, *mid, *source);
            }
        }
        for mid in old.keys().filter(|m| !wanted.contains_key(*m)) {
            self.unpublish_track(
                &room_id,
                &TrackKey {
                    publisher: id,
                    mid: *mid,
                },
            );
        }
    }

    /// Publishes the tracks `id` declared before its media connected.
    pub(super) fn publish_declared_tracks(&mut self, id: PeerId) {
        let Some(peer) = self.peers.get(&id) else {
            return;
        };
        let Some(room) = self.rooms.get(&peer.room) else {
            return;
        };
        let declared: Vec<(Mid, Source)> = peer
            .publishing
            .iter()
            .filter(|(mid, _)| {
                !room.tracks.contains_key(&TrackKey {
                    publisher: id,
                    mid: **mid,
                })
            })
            .map(|(m, s)| (*m, *s))
            .collect();
        for (mid, source) in declared {
            self.publish_track(id, mid, source);
        }
    }

    fn publish_track(&mut self, id: PeerId, mid: Mid, source: Source) {
        let Some(peer) = self.peers.get(&id) else {
            return;
        };
        let Some(room) = self.rooms.get_mut(&peer.room) else {
            return;
        };
        if source.kind() == MediaKind::Video && !room.may_publish_video(id, &self.config.video) {
            // Two peers can pass the offer's check before either's media connects: the limit
            // holds here, where tracks become real.
            self.events.send_to_peer(
                id,
                PeerEvent::Error {
                    code: ErrorCode::VideoPublishersFull,
                    message: format!(
                        "this room already has {} participants publishing video; your {} (mid \
                         {mid}) is not forwarded",
                        self.config.video.max_video_publishers,
                        source.as_str()
                    ),
                    fatal: false,
                },
            );
            return;
        }
        let key = TrackKey { publisher: id, mid };
        let participant_id = peer.info.participant_id.clone();
        let track = InTrack {
            track_id: format!("{participant_id}-{mid}"),
            participant_id,
            source,
            kind: source.kind(),
            speaking: SpeakingDetector::default(),
            codec: None,
            keyframes: Default::default(),
            layers: Vec::new(),
            offered_layers: 0,
            layer_sizes: Default::default(),
            layer_seen: Default::default(),
            active_top: 0,
            layer_bytes: [0; MAX_LAYERS],
            temporal_bytes: Default::default(),
            temporal_cost: Default::default(),
            layer_bps: [0; MAX_LAYERS],
            layer_cost: [0; MAX_LAYERS],
            cap_top: MAX_LAYERS as u8 - 1,
            dynacast: Default::default(),
            cap_sent_at: None,
            routes: Vec::new(),
        };
        self.events.push(EngineEvent::TrackAdded {
            publisher: id,
            mid,
            track: track.snapshot(),
        });
        room.tracks.insert(key.clone(), track);
        let others: Vec<PeerId> = room.peers.iter().copied().filter(|p| *p != id).collect();
        for other in others {
            if let Some(o) = self.peers.get_mut(&other) {
                o.subs.insert(key.clone(), SubState::ToOpen);
            }
            self.negotiate(other);
        }
    }

    pub(super) fn unpublish_track(&mut self, room_id: &crate::ids::RoomId, key: &TrackKey) {
        let Some(room) = self.rooms.get_mut(room_id) else {
            return;
        };
        let Some(track) = room.tracks.remove(key) else {
            return;
        };
        room.speaker_changes
            .retain(|c| c.publisher != key.publisher || c.mid != key.mid);
        self.events.push(EngineEvent::TrackRemoved {
            publisher: key.publisher,
            mid: key.mid,
        });
        let others: Vec<PeerId> = room
            .peers
            .iter()
            .copied()
            .filter(|p| *p != key.publisher)
            .collect();
        for other in others {
            let Some(o) = self.peers.get_mut(&other) else {
                continue;
            };
            // The subscriber's section for this track goes idle (see `sections.rs`): it stays
            // in the session for the next track of its kind, continuing the outgoing stream.
            match o.subs.remove(key) {
                Some(SubState::Open(m)) => {
                    let rewriter = track
                        .routes
                        .iter()
                        .find(|r| r.sub == other)
                        .map_or_else(|| Rewriter::new(track.kind), |r| r.rewriter.handover());
                    o.sections.went_idle(m, track.kind, rewriter, true);
                }
                Some(SubState::Negotiating(m)) => {
                    o.sections
                        .went_idle(m, track.kind, Rewriter::new(track.kind), false);
                }
                Some(SubState::ToOpen) | None => {}
            }
            self.events.send_to_peer(
                other,
                PeerEvent::TrackUnpublished {
                    participant_id: track.participant_id.clone(),
                    track_id: track.track_id.clone(),
                },
            );
            self.negotiate(other);
        }
    }

    /// Applies new grants: a published track whose source is no longer granted ends now (its
    /// packets are dropped by policy from then on), and the session is told.
    pub(super) fn set_grants(&mut self, id: PeerId, grants: Grants) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        peer.grants = grants;
        let wanted: HashMap<Mid, Source> = peer
            .publishing
            .iter()
            .filter(|(_, source)| grants.allows(**source))
            .map(|(m, s)| (*m, *s))
            .collect();
        self.events
            .send_to_peer(id, PeerEvent::GrantsChanged { grants });
        if wanted.len() != self.peers.get(&id).map_or(0, |p| p.publishing.len()) {
            self.reconcile_publishing(id, wanted);
        }
    }
}
