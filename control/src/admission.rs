//! Admission to a channel's RTC room: who may join, and what they may publish.

use serde::{Deserialize, Serialize};

use crate::communities::insert_member;
use crate::db::now_millis;
use crate::{ChannelKind, Control, ControlError, Role};

/// The server that, in dev mode, admits every user as a member.
pub(crate) const DEV_SERVER_ID: &str = "srv_harbor";

/// What a user may publish in a room, per media source.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Grants {
    /// May publish microphone audio.
    pub microphone: bool,
    /// May publish camera video.
    pub camera: bool,
    /// May publish screenshare video.
    pub screenshare: bool,
    /// May publish screenshare audio.
    pub screenshare_audio: bool,
}

/// The single place that decides grants: by channel kind now, by role/permissions later.
///
/// Voice: microphone only. Video: microphone, camera, screenshare and screenshare audio.
/// Text: nothing (text channels have no room).
pub fn grants_for(kind: ChannelKind, _role: Role) -> Grants {
    match kind {
        ChannelKind::Text => Grants::default(),
        ChannelKind::Voice => Grants {
            microphone: true,
            ..Grants::default()
        },
        ChannelKind::Video => Grants {
            microphone: true,
            camera: true,
            screenshare: true,
            screenshare_audio: true,
        },
    }
}

/// A user admitted to a channel's room, with what they may publish.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Admission {
    /// The channel's server.
    pub server_id: String,
    /// The channel.
    pub channel_id: String,
    /// The channel's kind (the room kind).
    pub kind: ChannelKind,
    /// The user's role in the server.
    pub role: Role,
    /// What the user may publish.
    pub grants: Grants,
}

/// Why a user was not admitted.
#[derive(Debug, thiserror::Error)]
pub enum AdmissionError {
    /// No such channel, it is not in the server the caller named, or the caller may not see it
    /// (not a member of its server): the three are indistinguishable from outside.
    #[error("channel not found")]
    ChannelNotFound,
    /// The user is no longer a member of the channel's server (re-checked at redemption; a
    /// ticket request gets `ChannelNotFound` instead).
    #[error("not a member of the channel's server")]
    NotAMember,
    /// The device was revoked.
    #[error("this device was revoked")]
    DeviceRevoked,
    /// The user is banned from the channel's server, until this unix millisecond (`None`: for
    /// good).
    #[error("banned from the channel's server")]
    Banned { until: Option<i64> },
    /// The user is timed out in the channel's server (no joining), until this unix millisecond
    /// (`None`: until lifted).
    #[error("timed out in the channel's server")]
    TimedOut { until: Option<i64> },
    /// The channel has no RTC room (text channel).
    #[error("not a voice or video channel")]
    NotAnRtcChannel,
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] ControlError),
}

impl From<crate::Restriction> for AdmissionError {
    fn from(r: crate::Restriction) -> Self {
        match r {
            crate::Restriction::Banned { until } => AdmissionError::Banned { until },
            crate::Restriction::TimedOut { until } => AdmissionError::TimedOut { until },
        }
    }
}

impl AdmissionError {
    /// When a ban or timeout ends (unix milliseconds), for those two.
    pub fn until(&self) -> Option<i64> {
        match self {
            AdmissionError::Banned { until } | AdmissionError::TimedOut { until } => *until,
            _ => None,
        }
    }

    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            AdmissionError::ChannelNotFound => "channel_not_found",
            AdmissionError::NotAMember => "not_a_member",
            AdmissionError::DeviceRevoked => "device_revoked",
            AdmissionError::Banned { .. } => "banned",
            AdmissionError::TimedOut { .. } => "timed_out",
            AdmissionError::NotAnRtcChannel => "not_an_rtc_channel",
            AdmissionError::Storage(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for AdmissionError {
    fn from(e: sqlx::Error) -> Self {
        AdmissionError::Storage(e.into())
    }
}

impl From<crate::DevicesError> for AdmissionError {
    fn from(e: crate::DevicesError) -> Self {
        match e {
            crate::DevicesError::Storage(e) => AdmissionError::Storage(e),
            _ => AdmissionError::DeviceRevoked,
        }
    }
}

impl Control {
    /// Decides whether `user_id` may join the room of `channel_id`, and with which grants.
    ///
    /// In order: an unknown channel, one outside `server_id` when given, or one of a server the
    /// user is not a member of is `ChannelNotFound` (never telling an outsider which channels
    /// exist) — except in dev mode on `srv_harbor`, which makes the user a member (role member)
    /// on first admission, and except for a user banned from (or timed out in) the server; a ban
    /// in force (permanent or ending in the future) is `Banned`, a timeout in force `TimedOut`; a
    /// text channel is `NotAnRtcChannel`.
    pub async fn admit_to_channel(
        &self,
        user_id: &str,
        channel_id: &str,
        server_id: Option<&str>,
    ) -> Result<Admission, AdmissionError> {
        let channel = self
            .channel(channel_id)
            .await?
            .ok_or(AdmissionError::ChannelNotFound)?;
        if server_id.is_some_and(|s| s != channel.server_id) {
            return Err(AdmissionError::ChannelNotFound);
        }
        let role = match self.member_role(&channel.server_id, user_id).await? {
            Some(role) => role,
            None if self.options().dev_mode && channel.server_id == DEV_SERVER_ID => {
                if let Some(r) = self.restriction_of(&channel.server_id, user_id).await? {
                    return Err(r.into());
                }
                let mut tx = self.write().await?;
                insert_member(
                    &mut tx,
                    &channel.server_id,
                    user_id,
                    Role::Member,
                    now_millis(),
                )
                .await?;
                tx.commit().await?;
                // Another request may have inserted the row first: read what is stored.
                self.member_role(&channel.server_id, user_id)
                    .await?
                    .ok_or(AdmissionError::ChannelNotFound)?
            }
            // A banned (or timed-out) former member is told so, with when it ends.
            None => {
                return Err(
                    match self.restriction_of(&channel.server_id, user_id).await? {
                        Some(r) => r.into(),
                        None => AdmissionError::ChannelNotFound,
                    },
                );
            }
        };
        if let Some(r) = self.restriction_of(&channel.server_id, user_id).await? {
            return Err(r.into());
        }
        if !channel.kind.is_rtc() {
            return Err(AdmissionError::NotAnRtcChannel);
        }
        Ok(Admission {
            server_id: channel.server_id,
            channel_id: channel.id,
            kind: channel.kind,
            role,
            grants: grants_for(channel.kind, role),
        })
    }

    /// Whether the holder of a join ticket may still enter, or stay in, the room of
    /// `channel_id`: the device is not revoked (`DeviceRevoked`), the user is still a member of
    /// the channel's server (`NotAMember`), not banned (`Banned`) and not timed out (`TimedOut`). Signaling asks at ticket
    /// redemption and whenever it must re-check its live sessions. Adds nobody (not even in dev
    /// mode).
    pub async fn check_room_access(
        &self,
        user_id: &str,
        device_id: &str,
        channel_id: &str,
    ) -> Result<(), AdmissionError> {
        self.authorize_device(user_id, device_id).await?;
        let channel = self
            .channel(channel_id)
            .await?
            .ok_or(AdmissionError::ChannelNotFound)?;
        if let Some(r) = self.restriction_of(&channel.server_id, user_id).await? {
            return Err(r.into());
        }
        if self
            .member_role(&channel.server_id, user_id)
            .await?
            .is_none()
        {
            return Err(AdmissionError::NotAMember);
        }
        Ok(())
    }
}
