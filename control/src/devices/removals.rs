//! When a device may no longer read a channel — it was revoked, or its user left or was removed
//! from the server — every channel group it is in gets a server-originated removal proposal, so
//! the next membership commit must remove it (see [`Control::propose_device_removal`]).

use sqlx::Row;

use crate::Control;
use crate::epochs::DeviceRef;

/// Which group memberships to propose removing.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Removal<'a> {
    /// One device, in every channel.
    Device {
        user_id: &'a str,
        device_id: &'a str,
    },
    /// Every device of a user, in the channels of one server.
    UserInServer {
        user_id: &'a str,
        server_id: &'a str,
    },
}

impl Control {
    /// Records the removal proposals for `removal`. Best effort after the change that caused
    /// it has committed: failures are logged, never returned.
    pub(crate) async fn propose_removals(&self, removal: Removal<'_>, reason: &str) {
        match removal {
            Removal::Device { user_id, device_id } => {
                let device = DeviceRef::new(user_id, device_id);
                if let Err(e) = self
                    .propose_removals_for_device(&device, Some(reason))
                    .await
                {
                    tracing::warn!(error = %e, "cannot propose removing a revoked device");
                }
            }
            Removal::UserInServer { user_id, server_id } => {
                self.propose_server_removals(user_id, server_id, reason)
                    .await;
            }
        }
    }

    async fn propose_server_removals(&self, user_id: &str, server_id: &str, reason: &str) {
        let rows = sqlx::query(
            "SELECT DISTINCT s.channel_id, s.device_id \
             FROM channel_device_spans s JOIN channels c ON c.id = s.channel_id \
             WHERE s.user_id = $1 AND c.server_id = $2 AND s.left_epoch IS NULL",
        )
        .bind(user_id)
        .bind(server_id)
        .fetch_all(self.pool())
        .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the groups of a departed member");
                return;
            }
        };
        for row in rows {
            let (Ok(channel_id), Ok(device_id)) = (
                row.try_get::<String, _>("channel_id"),
                row.try_get::<String, _>("device_id"),
            ) else {
                continue;
            };
            let device = DeviceRef::new(user_id, &device_id);
            if let Err(e) = self
                .propose_device_removal(&channel_id, &device, Some(reason))
                .await
            {
                tracing::warn!(error = %e, channel_id, "cannot propose a device removal");
            }
        }
    }
}
