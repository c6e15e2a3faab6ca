//! The hot path: one decrypted RTP packet in, one rewritten and encrypted copy per subscriber out.
//! No locks and no per-packet allocation beyond what str0m needs: the payload is shared by
//! reference (`Arc<[u8]>`) across subscribers.

use std::time::Instant;

use str0m::Input;
use str0m::format::{Codec, PayloadParams};
use str0m::media::{Rid, Rids};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite, Vp8Descriptor};

use super::{Engine, EngineEvent, SpeakerChange, drain_and_rearm};
use crate::codecs::{self, Mapped};
use crate::error::ErrorCode;
use crate::events::PeerEvent;
use crate::ids::PeerId;
use crate::peer::TrackKey;
use crate::policy::MediaKind;
use crate::room::Room;
use crate::simulcast::{Verdict, vp8_keyframe_size};
use crate::stats::WorkerStats;
use crate::temporal::{vp8_temporal, vp9_temporal};
use crate::vp9::Vp9Descriptor;

/// Whether forwarded packets of a kind are kept for retransmission: video packets are (str0m
/// answers a subscriber's NACK from its cache with RTX where RTX is negotiated); Opus packets are
/// not (str0m negotiates no NACK for Opus: audio loss is concealed by the decoder, not repaired,
/// so a cache would only cost memory per subscriber).
fn nackable(kind: MediaKind) -> bool {
    kind == MediaKind::Video
}

/// The rids of the simulcast layers the publisher declared on `mid`, in its SDP's order.
fn declared_rids(rtc: &str0m::Rtc, mid: str0m::media::Mid) -> Vec<Rid> {
    match rtc.media(mid).map(|m| m.rids_rx()) {
        Some(Rids::Specific(rids)) => rids.clone(),
        _ => Vec::new(),
    }
}

/// What a subscriber is told, once per track and codec, when its m-line lacks the codec a track
/// is published in (no transcoding: nothing of it is forwarded).
fn codec_unsupported(track_id: &str, mid: str0m::media::Mid, codec: PayloadParams) -> PeerEvent {
    let spec = codec.spec();
    PeerEvent::Error {
        code: ErrorCode::CodecUnsupported,
        message: format!(
            "track {track_id} (mid {mid}) is published in {:?}/{}, which this connection did not \
             negotiate on that m-line; nothing of it is forwarded",
            spec.codec,
            spec.clock_rate.get()
        ),
        fatal: false,
    }
}

impl Engine {
    pub(super) fn forward(&mut self, from: PeerId, packet: RtpPacket, now: Instant) {
        WorkerStats::add(&self.stats.packets_in, 1);
        WorkerStats::add(&self.stats.bytes_in, packet.payload.len() as u64);
        let Some(publisher) = self.peers.get_mut(&from) else {
            return;
        };
        let Some((mid, rid)) = publisher.source_of_ssrc(packet.header.ssrc) else {
            WorkerStats::add(&self.stats.packets_dropped_policy, 1);
            return;
        };
        let server_muted = publisher.server_muted;
        let pt_in = packet.header.payload_type;
        let Some(room) = self.rooms.get_mut(&publisher.room) else {
            return;
        };
        let Room {
            tracks,
            speaker_changes,
            ..
        } = room;
        let Some(track) = tracks.get_mut(&TrackKey {
            publisher: from,
            mid,
        }) else {
            // Not a published track: a source the ticket may not publish, or a rejected m-line.
            WorkerStats::add(&self.stats.packets_dropped_policy, 1);
            return;
        };
        if server_muted {
            WorkerStats::add(&self.stats.packets_dropped_policy, 1);
            return;
        }
        let Some(codec) = track.codec_of(pt_in, || codecs::params_of(&publisher.rtc, pt_in)) else {
            // A payload type the publisher's session did not negotiate.
            WorkerStats::add(&self.stats.packets_dropped_codec, 1);
            return;
        };
        let nackable = nackable(track.kind);
        let declared = || declared_rids(&publisher.rtc, mid);
        let max_layers = usize::from(self.config.video.max_simulcast_layers);
        let Some((layer, _declared_top)) = track.layer_of(rid, declared, max_layers) else {
            // A layer the publisher's SDP did not declare, or above the room's limit.
            WorkerStats::add(&self.stats.packets_dropped_policy, 1);
            return;
        };
        let simulcast = rid.is_some();
        if let Some(bytes) = track.layer_bytes.get_mut(usize::from(layer)) {
            // With the RTP header, as a subscriber's link carries it.
            *bytes += packet.payload.len() as u64 + 12;
        }
        let (top, top_changed) = if simulcast {
            track.layer_active(layer, now)
        } else {
            (0, false)
        };
        if top_changed {
            // Subscribers that want more than the new top switch to it on its keyframe.
            self.keyframes_wanted.push(TrackKey {
                publisher: from,
                mid,
            });
        }
        let vp8 = (track.kind == MediaKind::Video && codec.spec().codec == Codec::Vp8)
            .then(|| Vp8Descriptor::parse(&packet.payload).ok())
            .flatten();
        let vp9 = (track.kind == MediaKind::Video && codec.spec().codec == Codec::Vp9)
            .then(|| Vp9Descriptor::parse(&packet.payload))
            .flatten();
        let temporal = match (&vp8, &vp9) {
            (Some(_), _) => vp8_temporal(&packet.payload),
            (_, Some(d)) => vp9_temporal(d),
            _ => None,
        };
        // From the descriptors already parsed (the codecs' own checks would parse them again).
        let keyframe = (simulcast || temporal.is_some())
            && match (&vp8, &vp9) {
                (Some(d), _) => d.starts_keyframe(&packet.payload),
                (_, Some(d)) => d.starts_keyframe(),
                _ => codecs::starts_keyframe(codec.spec().codec, &packet.payload),
            };
        if keyframe && let Some(size) = vp8_keyframe_size(&packet.payload) {
            track.layer_sizes[usize::from(layer)] = Some(size);
        }
        if let Some(t) = temporal
            && layer == 0
            && let Some(bytes) = track.temporal_bytes.get_mut(usize::from(t.tid))
        {
            *bytes += packet.payload.len() as u64 + 12;
        }
        let audio_level = packet.header.ext_vals.audio_level;
        if let Some(level) = audio_level {
            let level = level.unsigned_abs().min(127);
            if let Some(change) = track.speaking.observe(now, level) {
                speaker_changes.push(SpeakerChange {
                    publisher: from,
                    mid,
                    speaking: change.speaking,
                    level: change.level,
                });
            }
        }
        let ext = ExtensionValues {
            audio_level,
            voice_activity: packet.header.ext_vals.voice_activity,
            ..Default::default()
        };
        let mut forwarded = 0u64;
        for route in &mut track.routes {
            let Some(sub) = self.peers.get_mut(&route.sub) else {
                continue;
            };
            if !sub.connected {
                continue;
            }
            if !simulcast && route.layer.is_paused() {
                continue;
            }
            if simulcast {
                match route.layer.on_packet(layer, top, keyframe) {
                    Verdict::Drop => continue,
                    // The new layer continues the subscriber's stream where the old one ended.
                    Verdict::Switch => {
                        WorkerStats::add(&self.stats.layer_switches, 1);
                        route.rewriter = route.rewriter.handover();
                        if let Some(descriptor) = &vp8 {
                            route.picture_ids.switch(descriptor);
                        }
                        if let Some(d) = &vp9 {
                            route.picture_ids.switch_to(d.picture_id(), d.tl0_pic_idx());
                        }
                    }
                    Verdict::Forward => {}
                }
            }
            if let Some(info) = temporal
                && !route.temporal.forwards(info, keyframe)
            {
                // Taken out of the subscriber's stream: no gap in its numbers.
                WorkerStats::add(&self.stats.temporal_drops, 1);
                route.rewriter.skip(*packet.seq_no);
                if let Some(descriptor) = &vp8 {
                    route.picture_ids.drop_frame(descriptor);
                }
                continue;
            }
            let pt = match route
                .pt
                .map(pt_in, || codecs::outgoing_pt(&sub.rtc, route.mid, codec))
            {
                Mapped::Pt(pt) => pt,
                Mapped::Unsupported { first } => {
                    WorkerStats::add(&self.stats.packets_dropped_codec, 1);
                    if first {
                        tracing::warn!(
                            peer = %route.sub,
                            mid = %route.mid,
                            codec = ?codec.spec().codec,
                            "a remote track's codec is not negotiated on the subscriber's m-line"
                        );
                        self.events.send_to_peer(
                            route.sub,
                            codec_unsupported(&track.track_id, route.mid, codec),
                        );
                    }
                    continue;
                }
            };
            let Some((seq, ts)) =
                route
                    .rewriter
                    .map(*packet.seq_no, packet.header.timestamp, packet.timestamp)
            else {
                continue;
            };
            let mut direct = sub.rtc.direct_api();
            let Some(tx) = direct.stream_tx_by_mid(route.mid, None) else {
                continue;
            };
            // Only now that the copy goes out: the ids it carries are the last ones sent.
            let vp8_patch = vp8.as_ref().and_then(|d| route.picture_ids.patch(d));
            let payload = match &vp9 {
                Some(d) => match route.picture_ids.map(d.picture_id(), d.tl0_pic_idx()) {
                    Some((picture, tl0)) => d.rewritten(&packet.payload, picture, tl0),
                    None => packet.payload.clone(),
                },
                None => packet.payload.clone(),
            };
            let mut write = RtpWrite::new(pt, seq.into(), ts, packet.timestamp, payload)
                .marker(packet.header.marker)
                .ext_vals(ext.clone())
                .nackable(nackable);
            if let Some(patch) = vp8_patch {
                write = write.vp8_patch(patch);
            }
            tx.write_rtp(write);
            if sub.rtc.handle_input(Input::Timeout(now)).is_err() {
                continue;
            }
            if drain_and_rearm(sub, &mut self.drained, &mut self.timers) {
                forwarded += 1;
            }
        }
        WorkerStats::add(&self.stats.packets_forwarded, forwarded);
        WorkerStats::add(
            &self.stats.bytes_forwarded,
            forwarded * packet.payload.len() as u64,
        );
        if forwarded > 0 {
            // The copies are queued for the runtime, which sends them before the next input:
            // forwarding latency is one packet's fan-out, measured until `Input::Sent`.
            self.forwarded_ingress.push(packet.timestamp);
            self.out.extend(self.drained.transmits.drain(..));
        }
    }

    /// Ends speaking for sources that went quiet without sending packets.
    pub(super) fn tick_speaking(&mut self, now: Instant) {
        for room in self.rooms.values_mut() {
            let Room {
                tracks,
                speaker_changes,
                ..
            } = room;
            for (key, track) in tracks.iter_mut() {
                if let Some(change) = track.speaking.tick(now) {
                    speaker_changes.push(SpeakerChange {
                        publisher: key.publisher,
                        mid: key.mid,
                        speaking: change.speaking,
                        level: change.level,
                    });
                }
            }
        }
    }

    /// Hands each room's speaking changes of the last interval to the rooms layer, one batch per
    /// room.
    pub(super) fn flush_speakers(&mut self) {
        for (id, room) in &mut self.rooms {
            if !room.speaker_changes.is_empty() {
                self.events.push(EngineEvent::Speakers {
                    room: id.clone(),
                    changes: std::mem::take(&mut room.speaker_changes),
                });
            }
        }
    }
}
