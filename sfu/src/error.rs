//! Errors and the stable codes peers see.

use serde::Serialize;

/// Stable, machine-readable protocol error codes raised by the sfu.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// SDP that does not parse or cannot be applied.
    InvalidSdp,
    /// Client offer while a server offer is outstanding.
    NegotiationGlare,
    /// An answer with no server offer outstanding.
    NoPendingOffer,
    /// The room kind forbids this media source.
    MediaSourceNotAllowed,
    /// The ticket lacks the grant for this source.
    PublishNotPermitted,
    /// No allowed codec in an m-line.
    CodecNotAllowed,
    /// A remote track's codec is not among those negotiated on the subscriber's m-line for it:
    /// nothing of that track is forwarded (no transcoding). Not fatal.
    CodecUnsupported,
    /// A second publishing m-line for a source the offer already publishes (one track per
    /// source and participant).
    DuplicateSource,
    /// A server offer could not complete: its answer was unusable (too large, not SDP, or not
    /// an answer to that offer), or the client's offers kept crossing the server's. Fatal.
    NegotiationFailed,
    /// No answer to a server offer within the negotiation bound. Fatal.
    NegotiationTimeout,
    /// Room participant limit reached.
    RoomFull,
    /// A `track_settings` for a track the session does not receive. Not fatal.
    UnknownTrack,
    /// The room's limit of participants publishing video is reached: this m-line is answered so
    /// the client does not send, and nothing is forwarded. Not fatal.
    VideoPublishersFull,
    /// The peer lost connectivity (ICE consent / no traffic).
    Timeout,
    /// The peer's media (ICE + DTLS) did not connect within the connect bound after joining.
    ConnectTimeout,
    /// The DTLS handshake failed, or the client's certificate does not match the
    /// `a=fingerprint` of its SDP.
    DtlsFailed,
    /// Internal sfu fault.
    Internal,
}

impl ErrorCode {
    /// The wire form of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidSdp => "invalid_sdp",
            ErrorCode::NegotiationGlare => "negotiation_glare",
            ErrorCode::NoPendingOffer => "no_pending_offer",
            ErrorCode::MediaSourceNotAllowed => "media_source_not_allowed",
            ErrorCode::PublishNotPermitted => "publish_not_permitted",
            ErrorCode::CodecNotAllowed => "codec_not_allowed",
            ErrorCode::CodecUnsupported => "codec_unsupported",
            ErrorCode::DuplicateSource => "duplicate_source",
            ErrorCode::NegotiationFailed => "negotiation_failed",
            ErrorCode::NegotiationTimeout => "negotiation_timeout",
            ErrorCode::RoomFull => "room_full",
            ErrorCode::UnknownTrack => "unknown_track",
            ErrorCode::VideoPublishersFull => "video_publishers_full",
            ErrorCode::Timeout => "timeout",
            ErrorCode::ConnectTimeout => "connect_timeout",
            ErrorCode::DtlsFailed => "dtls_failed",
            ErrorCode::Internal => "internal",
        }
    }
}

/// Errors from sfu operations that return synchronously.
#[derive(Debug, thiserror::Error)]
pub enum SfuError {
    /// Binding or configuring a UDP socket failed.
    #[error("media socket: {0}")]
    Socket(#[from] std::io::Error),
    /// The configuration is unusable.
    #[error("invalid sfu config: {0}")]
    Config(String),
    /// The room has reached its participant limit.
    #[error("room is full ({0} participants)")]
    RoomFull(usize),
    /// The worker thread has stopped.
    #[error("sfu worker stopped")]
    WorkerGone,
    /// A room command named no one in the room.
    #[error("no such participant in room {0}")]
    NotInRoom(String),
}

impl SfuError {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            SfuError::RoomFull(_) => ErrorCode::RoomFull,
            _ => ErrorCode::Internal,
        }
    }
}
