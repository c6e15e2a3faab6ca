//! Who may see a channel: members of its server. Everyone else gets "not found".

use crate::validate::is_valid_id;
use crate::{Channel, Control, ControlError};

/// Why a channel read was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AccessError {
    /// No such channel, or the caller is not a member of its server.
    #[error("channel not found")]
    ChannelNotFound,
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] ControlError),
}

impl From<sqlx::Error> for AccessError {
    fn from(e: sqlx::Error) -> Self {
        AccessError::Storage(e.into())
    }
}

impl Control {
    /// The channel, if `user_id` is a member of its server; otherwise `ChannelNotFound`.
    pub(crate) async fn visible_channel(
        &self,
        user_id: &str,
        channel_id: &str,
    ) -> Result<Channel, AccessError> {
        if !is_valid_id(channel_id) {
            return Err(AccessError::ChannelNotFound);
        }
        let channel = self
            .channel(channel_id)
            .await?
            .ok_or(AccessError::ChannelNotFound)?;
        match self.member_role(&channel.server_id, user_id).await? {
            Some(_) => Ok(channel),
            None => Err(AccessError::ChannelNotFound),
        }
    }
}
