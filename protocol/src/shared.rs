//! Values both directions use.

use serde::{Deserialize, Serialize};

/// A media source a participant may publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaSource {
    /// Microphone audio.
    Microphone,
    /// Camera video.
    Camera,
    /// Screen share video.
    Screenshare,
    /// Screen share audio.
    ScreenshareAudio,
    /// A source this side does not know (a newer peer). A server refuses it in client frames.
    #[serde(other)]
    Unknown,
}

impl MediaSource {
    /// Every source a frame may name.
    pub const KNOWN: [MediaSource; 4] = [
        MediaSource::Microphone,
        MediaSource::Camera,
        MediaSource::Screenshare,
        MediaSource::ScreenshareAudio,
    ];

    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaSource::Microphone => "microphone",
            MediaSource::Camera => "camera",
            MediaSource::Screenshare => "screenshare",
            MediaSource::ScreenshareAudio => "screenshare_audio",
            MediaSource::Unknown => "unknown",
        }
    }
}

/// A track's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackKind {
    /// Audio.
    Audio,
    /// Video.
    Video,
    /// A kind this side does not know (a newer peer).
    #[serde(other)]
    Unknown,
}

/// One entry of an `offer`'s `tracks`: which source an m-line carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferedTrack {
    /// The m-line's `mid`.
    pub mid: String,
    /// What it carries.
    pub source: MediaSource,
}

/// What a session may publish (`joined.self.grants`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Grants {
    /// Microphone audio.
    pub microphone: bool,
    /// Camera video.
    pub camera: bool,
    /// Screen share video.
    pub screenshare: bool,
    /// Screen share audio.
    pub screenshare_audio: bool,
}
