//! The signaling protocol at this server's edge: the frames are `openchat_protocol`'s; this module
//! sizes the frame limit and converts the sfu's types into the wire's (and back).

pub use openchat_protocol::{
    ClientMessage, ErrorCode, GoingAwayReason, Grants, Joined, MediaSource, OfferedTrack,
    PROTOCOL_VERSION, ParticipantInfo, RoomInfo, SelfInfo, ServerMessage, TrackInfo, TrackKind,
};

/// The frame limit never goes below this.
pub const MIN_FRAME_BYTES: usize = 64 * 1024;

/// Largest WebSocket frame (and message) accepted, either way: room for the largest SDP a
/// client of the largest room may have to send ([`sfu::RoomPolicy::max_sdp_bytes_any_kind`],
/// which follows from `rtc.max_participants_per_room`), JSON-escaped (`\r\n` adds two bytes a
/// line; a quarter more covers lines of ten bytes), plus the frame's other fields.
pub fn max_frame_bytes(max_participants_per_room: usize) -> usize {
    let sdp = sfu::RoomPolicy::max_sdp_bytes_any_kind(max_participants_per_room);
    sdp.saturating_add(sdp / 4)
        .saturating_add(1024)
        .max(MIN_FRAME_BYTES)
}

/// The wire's name for an sfu source.
pub fn wire_source(source: sfu::Source) -> MediaSource {
    match source {
        sfu::Source::Microphone => MediaSource::Microphone,
        sfu::Source::Camera => MediaSource::Camera,
        sfu::Source::Screenshare => MediaSource::Screenshare,
        sfu::Source::ScreenshareAudio => MediaSource::ScreenshareAudio,
    }
}

/// The sfu's source for a wire source (`None` for one this server does not know; frame
/// validation refuses those before they get here).
pub fn sfu_source(source: MediaSource) -> Option<sfu::Source> {
    Some(match source {
        MediaSource::Microphone => sfu::Source::Microphone,
        MediaSource::Camera => sfu::Source::Camera,
        MediaSource::Screenshare => sfu::Source::Screenshare,
        MediaSource::ScreenshareAudio => sfu::Source::ScreenshareAudio,
        MediaSource::Unknown => return None,
    })
}

/// The sfu's track declarations for an offer's `tracks`.
pub fn sfu_tracks(tracks: Vec<OfferedTrack>) -> Vec<sfu::TrackDeclaration> {
    tracks
        .into_iter()
        .filter_map(|t| {
            Some(sfu::TrackDeclaration {
                mid: t.mid,
                source: sfu_source(t.source)?,
            })
        })
        .collect()
}

/// The sfu's grants for a ticket's.
pub fn sfu_grants(g: Grants) -> sfu::Grants {
    sfu::Grants {
        microphone: g.microphone,
        camera: g.camera,
        screenshare: g.screenshare,
        screenshare_audio: g.screenshare_audio,
    }
}

/// The wire's grants for the sfu's.
pub fn wire_grants(g: sfu::Grants) -> Grants {
    Grants {
        microphone: g.microphone,
        camera: g.camera,
        screenshare: g.screenshare,
        screenshare_audio: g.screenshare_audio,
    }
}

/// The wire's code for an sfu error (every sfu code has one: the match is exhaustive).
pub fn wire_code(code: sfu::ErrorCode) -> ErrorCode {
    use sfu::ErrorCode as S;
    match code {
        S::InvalidSdp => ErrorCode::InvalidSdp,
        S::NegotiationGlare => ErrorCode::NegotiationGlare,
        S::NoPendingOffer => ErrorCode::NoPendingOffer,
        S::MediaSourceNotAllowed => ErrorCode::MediaSourceNotAllowed,
        S::PublishNotPermitted => ErrorCode::PublishNotPermitted,
        S::CodecNotAllowed => ErrorCode::CodecNotAllowed,
        S::CodecUnsupported => ErrorCode::CodecUnsupported,
        S::VideoPublishersFull => ErrorCode::VideoPublishersFull,
        S::UnknownTrack => ErrorCode::UnknownTrack,
        S::DuplicateSource => ErrorCode::DuplicateSource,
        S::NegotiationFailed => ErrorCode::NegotiationFailed,
        S::NegotiationTimeout => ErrorCode::NegotiationTimeout,
        S::RoomFull => ErrorCode::RoomFull,
        S::Timeout => ErrorCode::Timeout,
        S::ConnectTimeout => ErrorCode::ConnectTimeout,
        S::DtlsFailed => ErrorCode::DtlsFailed,
        S::Internal => ErrorCode::Internal,
    }
}

/// The wire's reason for going away.
pub fn wire_going_away(reason: control::websocket::GoingAwayReason) -> GoingAwayReason {
    match reason {
        control::websocket::GoingAwayReason::Shutdown => GoingAwayReason::Shutdown,
        control::websocket::GoingAwayReason::Drain => GoingAwayReason::Drain,
    }
}

fn wire_kind(kind: sfu::MediaKind) -> TrackKind {
    match kind {
        sfu::MediaKind::Audio => TrackKind::Audio,
        sfu::MediaKind::Video => TrackKind::Video,
    }
}

/// Converts an sfu participant snapshot.
pub fn participant(p: &sfu::ParticipantSnapshot) -> ParticipantInfo {
    ParticipantInfo {
        participant_id: p.info.participant_id.clone(),
        user_id: p.info.user_id.clone(),
        device_id: p.info.device_id.clone(),
        tracks: p.tracks.iter().map(track).collect(),
        speaking: p.speaking,
        muted: p.muted.iter().copied().map(wire_source).collect(),
        server_muted: p.server_muted,
    }
}

fn track(t: &sfu::TrackSnapshot) -> TrackInfo {
    TrackInfo {
        track_id: t.track_id.clone(),
        source: wire_source(t.source),
        kind: wire_kind(t.kind),
        muted: t.muted,
    }
}

/// Converts an sfu event to a frame, if clients see it.
pub fn from_peer_event(event: &sfu::PeerEvent) -> Option<ServerMessage> {
    use sfu::PeerEvent as E;
    Some(match event {
        E::Answer { sdp } => ServerMessage::Answer { sdp: sdp.clone() },
        E::Offer { sdp } => ServerMessage::Offer { sdp: sdp.clone() },
        E::ParticipantJoined(p) => ServerMessage::ParticipantJoined {
            participant: participant(p),
        },
        E::ParticipantLeft {
            participant_id,
            reason,
        } => ServerMessage::ParticipantLeft {
            participant_id: participant_id.clone(),
            reason: reason.as_str().into(),
        },
        E::TrackPublished {
            participant_id,
            track,
            mid,
        } => ServerMessage::TrackPublished {
            participant_id: participant_id.clone(),
            track_id: track.track_id.clone(),
            source: wire_source(track.source),
            kind: wire_kind(track.kind),
            mid: mid.clone(),
        },
        E::TrackUnpublished {
            participant_id,
            track_id,
        } => ServerMessage::TrackUnpublished {
            participant_id: participant_id.clone(),
            track_id: track_id.clone(),
        },
        E::Speaking {
            participant_id,
            speaking,
            level,
        } => ServerMessage::Speaking {
            participant_id: participant_id.clone(),
            speaking: *speaking,
            level: *level,
        },
        E::Muted {
            participant_id,
            source,
            muted,
        } => ServerMessage::Muted {
            participant_id: participant_id.clone(),
            source: wire_source(*source),
            muted: *muted,
        },
        E::ServerMuted {
            participant_id,
            muted,
        } => ServerMessage::ServerMuted {
            participant_id: participant_id.clone(),
            muted: *muted,
        },
        E::GrantsChanged { grants } => ServerMessage::GrantsChanged {
            grants: wire_grants(*grants),
        },
        E::PublishLayers { mid, paused, rids } => ServerMessage::PublishLayers {
            mid: mid.clone(),
            paused: *paused,
            rids: rids.clone(),
        },
        E::Error {
            code,
            message,
            fatal,
        } => ServerMessage::error_code(wire_code(*code), message.clone(), *fatal),
        E::Joined { .. } | E::Connected | E::Closed { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_limit_fits_the_largest_sdp() {
        let sdp = sfu::RoomPolicy::max_sdp_bytes_any_kind(100);
        assert!(max_frame_bytes(100) > sdp + sdp / 5);
        assert!(max_frame_bytes(1) >= MIN_FRAME_BYTES);
        assert!(max_frame_bytes(1000) > max_frame_bytes(100));
    }

    #[test]
    fn sources_and_grants_keep_their_wire_names() {
        for source in [
            sfu::Source::Microphone,
            sfu::Source::Camera,
            sfu::Source::Screenshare,
            sfu::Source::ScreenshareAudio,
        ] {
            assert_eq!(source.as_str(), wire_source(source).as_str());
            assert_eq!(sfu_source(wire_source(source)), Some(source));
        }
        let grants = Grants {
            camera: true,
            ..Grants::default()
        };
        assert_eq!(
            sfu_grants(grants),
            sfu::Grants {
                camera: true,
                ..sfu::Grants::default()
            }
        );
    }

    #[test]
    fn going_away_frame() {
        use control::websocket::GoingAwayReason as Reason;
        let text = ServerMessage::going_away(wire_going_away(Reason::Shutdown)).to_text();
        assert_eq!(
            text,
            r#"{"type":"going_away","reason":"shutdown","reconnect":true}"#
        );
        let text = ServerMessage::going_away(wire_going_away(Reason::Drain)).to_text();
        assert!(text.contains(r#""reason":"drain""#), "{text}");
    }
}
