//! Media policy: which sources a room kind accepts and which a peer may publish.

use serde::{Deserialize, Serialize};

use crate::sdp::limits;

/// Kind of media in an m-line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// Audio.
    Audio,
    /// Video.
    Video,
}

impl MediaKind {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
        }
    }
}

/// A publishable media source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Microphone audio.
    Microphone,
    /// Camera video.
    Camera,
    /// Screen share video.
    Screenshare,
    /// Screen share audio.
    ScreenshareAudio,
}

impl Source {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Microphone => "microphone",
            Source::Camera => "camera",
            Source::Screenshare => "screenshare",
            Source::ScreenshareAudio => "screenshare_audio",
        }
    }

    /// The media kind this source carries.
    pub fn kind(self) -> MediaKind {
        match self {
            Source::Microphone | Source::ScreenshareAudio => MediaKind::Audio,
            Source::Camera | Source::Screenshare => MediaKind::Video,
        }
    }

    /// The source assumed for an m-line the client did not declare.
    pub fn default_for(kind: MediaKind) -> Source {
        match kind {
            MediaKind::Audio => Source::Microphone,
            MediaKind::Video => Source::Camera,
        }
    }
}

/// The client's statement of which source an m-line of its offer carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackDeclaration {
    /// The m-line's mid.
    pub mid: String,
    /// What it carries.
    pub source: Source,
}

/// Per-source publish permissions from the join ticket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    /// May publish microphone audio.
    pub microphone: bool,
    /// May publish camera video.
    pub camera: bool,
    /// May publish screen share video.
    pub screenshare: bool,
    /// May publish screen share audio.
    pub screenshare_audio: bool,
}

impl Grants {
    /// Whether `source` may be published under these grants.
    pub fn allows(&self, source: Source) -> bool {
        match source {
            Source::Microphone => self.microphone,
            Source::Camera => self.camera,
            Source::Screenshare => self.screenshare,
            Source::ScreenshareAudio => self.screenshare_audio,
        }
    }
}

/// Kind of room, which fixes the sources it accepts at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    /// Microphone audio only.
    Voice,
    /// Audio, camera and screen share.
    Video,
}

impl RoomKind {
    /// Every room kind.
    pub const ALL: [RoomKind; 2] = [RoomKind::Voice, RoomKind::Video];

    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RoomKind::Voice => "voice",
            RoomKind::Video => "video",
        }
    }

    /// The sources a participant may publish in a room of this kind (one track each).
    pub fn sources(self) -> &'static [Source] {
        match self {
            RoomKind::Voice => &[Source::Microphone],
            RoomKind::Video => &[
                Source::Microphone,
                Source::Camera,
                Source::Screenshare,
                Source::ScreenshareAudio,
            ],
        }
    }
}

/// Limits and rules of one room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomPolicy {
    /// Kind of room.
    pub kind: RoomKind,
    /// Most peers at once.
    pub max_participants: usize,
}

impl RoomPolicy {
    /// Default policy for a room kind.
    pub fn for_kind(kind: RoomKind) -> RoomPolicy {
        RoomPolicy {
            kind,
            max_participants: 100,
        }
    }

    /// The most m= sections a client's session in this room holds: one per source for each
    /// participant (its own and everyone else's tracks) and [`SPARE_SECTIONS`] of its own. The
    /// server never offers a section beyond it (see [`crate::sdp::limits`]).
    ///
    /// [`SPARE_SECTIONS`]: crate::SPARE_SECTIONS
    pub fn max_sections(&self) -> usize {
        self.max_participants
            .max(1)
            .saturating_mul(self.kind.sources().len())
            .saturating_add(limits::SPARE_SECTIONS)
    }

    /// The largest SDP a client of this room may send, offer or answer (see
    /// [`crate::sdp::limits`]). Larger SDP is refused.
    pub fn max_sdp_bytes(&self) -> usize {
        let per_participant: usize = self
            .kind
            .sources()
            .iter()
            .map(|s| match s.kind() {
                MediaKind::Audio => limits::AUDIO_SECTION_BYTES,
                MediaKind::Video => limits::VIDEO_SECTION_BYTES,
            })
            .sum();
        per_participant
            .saturating_mul(self.max_participants.max(1))
            .saturating_add(limits::SPARE_SECTIONS * limits::VIDEO_SECTION_BYTES)
            .saturating_add(limits::SESSION_BYTES)
    }

    /// [`RoomPolicy::max_sdp_bytes`] of the largest room kind with `max_participants`: what a
    /// transport that does not know the room yet must let through.
    pub fn max_sdp_bytes_any_kind(max_participants: usize) -> usize {
        RoomKind::ALL
            .iter()
            .map(|kind| {
                RoomPolicy {
                    kind: *kind,
                    max_participants,
                }
                .max_sdp_bytes()
            })
            .max()
            .unwrap_or(0)
    }

    /// Whether this room accepts `source` from anyone.
    pub fn accepts_source(&self, source: Source) -> bool {
        match self.kind {
            RoomKind::Voice => source == Source::Microphone,
            RoomKind::Video => true,
        }
    }

    /// Whether this room accepts media of `kind` at all.
    pub fn accepts_kind(&self, kind: MediaKind) -> bool {
        match self.kind {
            RoomKind::Voice => kind == MediaKind::Audio,
            RoomKind::Video => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_rooms_take_microphone_only() {
        let p = RoomPolicy::for_kind(RoomKind::Voice);
        assert!(p.accepts_source(Source::Microphone));
        assert!(!p.accepts_source(Source::Camera));
        assert!(!p.accepts_source(Source::ScreenshareAudio));
        assert!(!p.accepts_kind(MediaKind::Video));
    }

    #[test]
    fn sdp_limits_follow_the_room_caps() {
        let voice = RoomPolicy::for_kind(RoomKind::Voice);
        assert_eq!(voice.max_sections(), 100 + limits::SPARE_SECTIONS);
        let video = RoomPolicy::for_kind(RoomKind::Video);
        assert_eq!(video.max_sections(), 400 + limits::SPARE_SECTIONS);
        assert_eq!(voice.max_sdp_bytes(), 2048 + 100 * 2048 + 4 * 8192);
        assert_eq!(
            video.max_sdp_bytes(),
            2048 + 100 * (2 * 2048 + 2 * 8192) + 4 * 8192
        );
        assert_eq!(
            RoomPolicy::max_sdp_bytes_any_kind(100),
            video.max_sdp_bytes()
        );
    }

    #[test]
    fn grants_gate_each_source() {
        let g = Grants {
            microphone: true,
            ..Grants::default()
        };
        assert!(g.allows(Source::Microphone));
        assert!(!g.allows(Source::Camera));
    }
}
