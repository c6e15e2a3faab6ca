//! Media policy: which sources a room kind accepts and which a peer may publish.

use serde::{Deserialize, Serialize};

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
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RoomKind::Voice => "voice",
            RoomKind::Video => "video",
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
    fn grants_gate_each_source() {
        let g = Grants {
            microphone: true,
            ..Grants::default()
        };
        assert!(g.allows(Source::Microphone));
        assert!(!g.allows(Source::Camera));
    }
}
