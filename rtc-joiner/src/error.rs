//! The library's error type.

use crate::audio_source::AudioError;

/// Everything that can stop a [`Joiner`](crate::Joiner).
///
/// [`JoinerError::code`] gives a stable, machine-readable code: for errors reported by the
/// server it is the server's own `code` (e.g. `not_a_member`, `ticket_expired`).
#[derive(Debug, thiserror::Error)]
pub enum JoinerError {
    /// The HTTP API answered with an error body (`{"error": {"code", "message"}}`).
    #[error("{code}: {message}")]
    Api {
        /// HTTP status code.
        status: u16,
        /// The server's machine-readable error code.
        code: String,
        /// The server's human-readable message.
        message: String,
    },
    /// The signaling WebSocket sent a fatal `error` frame.
    #[error("{code}: {message}")]
    Signaling {
        /// The server's machine-readable error code.
        code: String,
        /// The server's human-readable message.
        message: String,
    },
    /// The server is going away (it stops or drains): it sent `going_away` or closed the
    /// signaling socket with 1001. Not a failure of this client: join again later. A joined
    /// session turns it into a clean end (stop reason `server_going_away`); before the join the
    /// CLI exits with [`EXIT_SERVER_GOING_AWAY`](crate::EXIT_SERVER_GOING_AWAY).
    #[error("server_going_away: the server is going away ({reason}); join again to continue")]
    ServerGoingAway {
        /// The server's reason (`shutdown`, `drain`).
        reason: String,
    },
    /// An HTTP transport failure (connection refused, bad body, ...).
    #[error("http_error: {0}")]
    Http(#[from] reqwest::Error),
    /// A WebSocket transport failure.
    #[error("websocket_error: {0}")]
    WebSocket(#[from] Box<tokio_tungstenite::tungstenite::Error>),
    /// The server broke the protocol (unexpected frame, closed socket, bad SDP...).
    #[error("protocol_error: {0}")]
    Protocol(String),
    /// webrtc-rs reported an error.
    #[error("webrtc_error: {0}")]
    WebRtc(#[from] webrtc::error::Error),
    /// The audio source could not be opened or decoded.
    #[error("audio_error: {0}")]
    Audio(#[from] AudioError),
    /// libopus reported an error.
    #[error("opus_error: {0}")]
    Opus(#[from] opus::Error),
    /// Writing a received-audio WAV file failed.
    #[error("wav_error: {0}")]
    Wav(#[from] hound::Error),
    /// A local I/O error.
    #[error("io_error: {0}")]
    Io(#[from] std::io::Error),
    /// Something did not happen in time.
    #[error("timeout: {0}")]
    Timeout(String),
    /// The configuration is unusable (bad URL, ...).
    #[error("invalid_config: {0}")]
    Config(String),
}

impl JoinerError {
    /// The stable machine-readable code of this error.
    pub fn code(&self) -> &str {
        match self {
            JoinerError::Api { code, .. } | JoinerError::Signaling { code, .. } => code,
            JoinerError::ServerGoingAway { .. } => "server_going_away",
            JoinerError::Http(_) => "http_error",
            JoinerError::WebSocket(_) => "websocket_error",
            JoinerError::Protocol(_) => "protocol_error",
            JoinerError::WebRtc(_) => "webrtc_error",
            JoinerError::Audio(_) => "audio_error",
            JoinerError::Opus(_) => "opus_error",
            JoinerError::Wav(_) => "wav_error",
            JoinerError::Io(_) => "io_error",
            JoinerError::Timeout(_) => "timeout",
            JoinerError::Config(_) => "invalid_config",
        }
    }
}

impl From<tokio_tungstenite::tungstenite::Error> for JoinerError {
    fn from(err: tokio_tungstenite::tungstenite::Error) -> Self {
        JoinerError::WebSocket(Box::new(err))
    }
}
