//! Typing and presence: live-only events (never replayed on resume), still written through the
//! outbox so every process delivers them.

use serde_json::json;

use crate::epochs::{DeviceRef, is_member_at};
use crate::outbox::{Audience, kind};
use crate::{Control, ControlError};

impl Control {
    /// Announces that `device` is typing in `channel_id` to the channel's member devices.
    /// Returns `false` (and writes nothing) unless the device is a current member.
    pub async fn emit_typing(
        &self,
        device: &DeviceRef,
        channel_id: &str,
    ) -> Result<bool, ControlError> {
        if self
            .visible_channel(&device.user_id, channel_id)
            .await
            .is_err()
        {
            return Ok(false);
        }
        let epoch: i64 = sqlx::query_scalar("SELECT epoch FROM channels WHERE id = $1")
            .bind(channel_id)
            .fetch_one(self.pool())
            .await?;
        let key = (device.user_id.as_str(), device.device_id.as_str());
        if !is_member_at(self.pool(), channel_id, key, epoch).await? {
            return Ok(false);
        }
        let payload = json!({
            "channel_id": channel_id,
            "user_id": device.user_id,
            "device_id": device.device_id,
        });
        let mut write = self.write().await?;
        write
            .append(
                kind::TYPING,
                Audience::ChannelEpoch { channel_id, epoch },
                &payload,
                self.now(),
            )
            .await?;
        write.commit().await?;
        Ok(true)
    }

    /// Announces `user_id` as `online` or `offline` to the users sharing a server with them.
    pub(crate) async fn emit_presence(
        &self,
        user_id: &str,
        status: &str,
    ) -> Result<(), ControlError> {
        let mut write = self.write().await?;
        write
            .append(
                kind::PRESENCE,
                Audience::UserPeers { user_id },
                &json!({ "user_id": user_id, "status": status }),
                self.now(),
            )
            .await?;
        write.commit().await?;
        Ok(())
    }
}
