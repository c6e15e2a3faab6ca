//! Wire types of signaling's routes (health, capabilities, development tokens, join tickets).
//!
//! Signaling's handlers build and parse exactly these types, and the OpenAPI document (built
//! here, see [`super::openapi`]) describes them: one definition for both, so they cannot drift.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{ChannelKind, Grants};

/// Answer of `GET /healthz`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(pattern = "^ok$")]
    pub status: String,
}

/// Answer of `GET /readyz`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Ready {
    /// Always `ready`.
    #[schema(pattern = "^ready$")]
    pub status: String,
    /// UDP ports of the media workers.
    pub media_ports: Vec<u16>,
}

/// Answer of `GET /v1/client/capabilities`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Capabilities {
    /// `openchatd`'s version.
    pub server_version: String,
    /// Signaling protocol version (docs/protocol.md).
    pub protocol_version: u32,
    /// RTC features.
    pub rtc: RtcCapabilities,
    /// End-to-end encryption features of the chat API.
    pub e2ee: E2eeCapabilities,
    /// Moderation features.
    pub moderation: ModerationCapabilities,
    /// Limits clients must respect.
    pub limits: CapabilityLimits,
    /// Whether `POST /v1/dev/token` and the development seed are on.
    pub development_mode: bool,
}

/// RTC part of [`Capabilities`].
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RtcCapabilities {
    /// Whether RTC rooms are served.
    pub enabled: bool,
    /// Audio codecs, e.g. `opus`.
    pub audio_codecs: Vec<String>,
    /// Video codecs.
    pub video_codecs: Vec<String>,
    /// Room kinds that can be joined.
    pub room_kinds: Vec<ChannelKind>,
    /// Media sources that can be published.
    pub sources: Vec<String>,
    /// The sfu is ICE-lite.
    pub ice_lite: bool,
    /// Most participants in one room.
    pub max_participants_per_room: usize,
}

/// Chat encryption part of [`Capabilities`].
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct E2eeCapabilities {
    /// Opaque chat envelopes.
    pub envelopes: bool,
    /// Membership epochs and commits.
    pub epochs: bool,
    /// Key packages.
    pub key_packages: bool,
    /// Key backups.
    pub key_backups: bool,
    /// The realtime WebSocket.
    pub realtime: bool,
}

/// Moderation part of [`Capabilities`].
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ModerationCapabilities {
    /// The moderation API (`/v1/moderation/...`) is served.
    pub enabled: bool,
    /// The actions it takes.
    pub actions: Vec<crate::ActionKind>,
    /// Actions may be put to a vote.
    pub votes: bool,
    /// Cases may carry report bundles (what the reporter discloses).
    pub report_bundles: bool,
}

/// Limits part of [`Capabilities`].
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CapabilityLimits {
    /// Join-ticket lifetime, seconds.
    pub ticket_ttl_secs: u64,
    /// Largest signaling WebSocket frame, bytes.
    pub max_ws_frame_bytes: usize,
    /// Largest request body, bytes (routes with payloads have their own limits).
    pub max_body_bytes: usize,
}

/// Body of `POST /v1/dev/token`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevTokenRequest {
    /// The user (`sub`).
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$")]
    pub user_id: String,
    /// The device (`did`; default `default`).
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$")]
    pub device_id: Option<String>,
}

/// Answer of `POST /v1/dev/token`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DevToken {
    /// The access token (JWT).
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(pattern = "^Bearer$")]
    pub token_type: String,
    /// Lifetime, seconds.
    pub expires_in: u64,
    /// The user it names.
    pub user_id: String,
}

/// Body of `POST /v1/rtc/channels/{channel_id}/join-ticket` (the body is optional).
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinTicketRequest {
    /// Must be the channel's server when given.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub server_id: Option<String>,
}

/// Answer of `POST /v1/rtc/channels/{channel_id}/join-ticket`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct JoinTicket {
    /// The single-use ticket (JWT) for the signaling `join`.
    pub ticket: String,
    /// Its expiry, seconds since the epoch.
    pub expires_at: u64,
    /// Where to open the signaling WebSocket.
    pub signaling_url: String,
    /// The channel.
    pub channel_id: String,
    /// Its server.
    pub server_id: String,
    /// `voice` or `video`.
    pub room_kind: ChannelKind,
    /// What the caller may publish.
    pub grants: Grants,
}
