//! The stable codes of the signaling WebSocket's `error` frames.

/// Every code an `error` frame of the signaling WebSocket may carry (`docs/protocol.md`, "Error
/// codes on the WebSocket", lists exactly these). A client matches on the code, never on the
/// message. Codes a client does not know yet arrive as plain strings in
/// [`crate::ServerMessage::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidMessage,
    UnsupportedProtocol,
    JoinRequired,
    AlreadyJoined,
    TicketInvalid,
    TicketExpired,
    TicketReplayed,
    RoomFull,
    DeviceRevoked,
    MembershipRevoked,
    Banned,
    TimedOut,
    InvalidSdp,
    NegotiationGlare,
    NoPendingOffer,
    NegotiationFailed,
    NegotiationTimeout,
    MediaSourceNotAllowed,
    PublishNotPermitted,
    CodecNotAllowed,
    CodecUnsupported,
    DuplicateSource,
    VideoPublishersFull,
    UnknownTrack,
    DtlsFailed,
    ConnectTimeout,
    Timeout,
    Kicked,
    KeepaliveTimeout,
    IdleTimeout,
    Internal,
}

impl ErrorCode {
    /// Every code, in the order of the documentation's table.
    pub const ALL: [ErrorCode; 31] = [
        ErrorCode::InvalidMessage,
        ErrorCode::UnsupportedProtocol,
        ErrorCode::JoinRequired,
        ErrorCode::AlreadyJoined,
        ErrorCode::TicketInvalid,
        ErrorCode::TicketExpired,
        ErrorCode::TicketReplayed,
        ErrorCode::RoomFull,
        ErrorCode::DeviceRevoked,
        ErrorCode::MembershipRevoked,
        ErrorCode::Banned,
        ErrorCode::TimedOut,
        ErrorCode::InvalidSdp,
        ErrorCode::NegotiationGlare,
        ErrorCode::NoPendingOffer,
        ErrorCode::NegotiationFailed,
        ErrorCode::NegotiationTimeout,
        ErrorCode::MediaSourceNotAllowed,
        ErrorCode::PublishNotPermitted,
        ErrorCode::CodecNotAllowed,
        ErrorCode::CodecUnsupported,
        ErrorCode::DuplicateSource,
        ErrorCode::VideoPublishersFull,
        ErrorCode::UnknownTrack,
        ErrorCode::DtlsFailed,
        ErrorCode::ConnectTimeout,
        ErrorCode::Timeout,
        ErrorCode::Kicked,
        ErrorCode::KeepaliveTimeout,
        ErrorCode::IdleTimeout,
        ErrorCode::Internal,
    ];

    /// The code on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidMessage => "invalid_message",
            ErrorCode::UnsupportedProtocol => "unsupported_protocol",
            ErrorCode::JoinRequired => "join_required",
            ErrorCode::AlreadyJoined => "already_joined",
            ErrorCode::TicketInvalid => "ticket_invalid",
            ErrorCode::TicketExpired => "ticket_expired",
            ErrorCode::TicketReplayed => "ticket_replayed",
            ErrorCode::RoomFull => "room_full",
            ErrorCode::DeviceRevoked => "device_revoked",
            ErrorCode::MembershipRevoked => "membership_revoked",
            ErrorCode::Banned => "banned",
            ErrorCode::TimedOut => "timed_out",
            ErrorCode::InvalidSdp => "invalid_sdp",
            ErrorCode::NegotiationGlare => "negotiation_glare",
            ErrorCode::NoPendingOffer => "no_pending_offer",
            ErrorCode::NegotiationFailed => "negotiation_failed",
            ErrorCode::NegotiationTimeout => "negotiation_timeout",
            ErrorCode::MediaSourceNotAllowed => "media_source_not_allowed",
            ErrorCode::PublishNotPermitted => "publish_not_permitted",
            ErrorCode::CodecNotAllowed => "codec_not_allowed",
            ErrorCode::CodecUnsupported => "codec_unsupported",
            ErrorCode::DuplicateSource => "duplicate_source",
            ErrorCode::VideoPublishersFull => "video_publishers_full",
            ErrorCode::UnknownTrack => "unknown_track",
            ErrorCode::DtlsFailed => "dtls_failed",
            ErrorCode::ConnectTimeout => "connect_timeout",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Kicked => "kicked",
            ErrorCode::KeepaliveTimeout => "keepalive_timeout",
            ErrorCode::IdleTimeout => "idle_timeout",
            ErrorCode::Internal => "internal",
        }
    }

    /// The code for a wire string, if it is one of ours.
    pub fn parse(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_snake_case_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s}");
            assert_eq!(ErrorCode::parse(s), Some(code));
        }
        assert_eq!(ErrorCode::parse("nope"), None);
    }
}
