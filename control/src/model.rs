//! Durable entities: servers, channels, members, bans, and the enums stored with them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a channel carries. Stored as its lowercase name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// Chat only (no RTC room).
    Text,
    /// Audio room.
    Voice,
    /// Audio, camera and screenshare room.
    Video,
}

impl ChannelKind {
    /// The stored and serialized name: `text`, `voice` or `video`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Text => "text",
            ChannelKind::Voice => "voice",
            ChannelKind::Video => "video",
        }
    }

    /// Whether the channel has an RTC room (voice or video).
    pub fn is_rtc(self) -> bool {
        !matches!(self, ChannelKind::Text)
    }
}

/// A member's role in a server. Stored as its lowercase name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Created the server; may do everything.
    Owner,
    /// May manage channels and members.
    Moderator,
    /// Regular member.
    Member,
}

impl Role {
    /// The stored and serialized name: `owner`, `moderator` or `member`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Moderator => "moderator",
            Role::Member => "member",
        }
    }

    /// Owners and moderators manage channels and members.
    pub fn can_manage(self) -> bool {
        matches!(self, Role::Owner | Role::Moderator)
    }
}

/// A string that names no variant of the enum it was parsed into.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown value {0:?}")]
pub struct UnknownVariant(pub String);

impl FromStr for ChannelKind {
    type Err = UnknownVariant;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(ChannelKind::Text),
            "voice" => Ok(ChannelKind::Voice),
            "video" => Ok(ChannelKind::Video),
            other => Err(UnknownVariant(other.to_owned())),
        }
    }
}

impl FromStr for Role {
    type Err = UnknownVariant;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "owner" => Ok(Role::Owner),
            "moderator" => Ok(Role::Moderator),
            "member" => Ok(Role::Member),
            other => Err(UnknownVariant(other.to_owned())),
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A server (community).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Server {
    /// Id, e.g. `srv_harbor`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The user who created it.
    pub owner_user_id: String,
    /// Creation time, unix milliseconds.
    pub created_at: i64,
}

/// A channel of a server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Channel {
    /// Id, unique across servers, e.g. `vc_general`.
    pub id: String,
    /// The server it belongs to.
    pub server_id: String,
    /// Display name.
    pub name: String,
    /// What it carries.
    pub kind: ChannelKind,
    /// Creation time, unix milliseconds.
    pub created_at: i64,
}

/// A user's membership in a server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Member {
    /// The server.
    pub server_id: String,
    /// The user.
    pub user_id: String,
    /// Their role.
    pub role: Role,
    /// When they joined, unix milliseconds.
    pub joined_at: i64,
}

/// A ban of a user from a server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Ban {
    /// The server.
    pub server_id: String,
    /// The banned user.
    pub user_id: String,
    /// End of the ban (unix milliseconds); `None` is permanent.
    pub until: Option<i64>,
    /// Free-text reason given by the moderator.
    pub reason: Option<String>,
}

impl Ban {
    /// Whether the ban is in force at `now_millis`.
    pub fn is_active(&self, now_millis: i64) -> bool {
        self.until.is_none_or(|until| until > now_millis)
    }
}
