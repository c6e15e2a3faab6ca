//! Test support for the membership work.

use crate::{Control, ControlError};

impl Control {
    /// Test support: inserts an active device row directly (no device cap, no link code), so
    /// membership tests can give a user several devices. Existing rows are left untouched.
    /// Production code never calls it.
    pub async fn testing_insert_device(
        &self,
        user_id: &str,
        device_id: &str,
    ) -> Result<(), ControlError> {
        sqlx::query(
            "INSERT INTO devices (user_id, device_id, name, created_at) VALUES ($1, $2, NULL, $3) \
             ON CONFLICT (user_id, device_id) DO NOTHING",
        )
        .bind(user_id)
        .bind(device_id)
        .bind(self.now())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Test support: number of realtime sessions registered in this process.
    pub fn testing_realtime_sessions(&self) -> usize {
        self.hub.session_count()
    }
}
