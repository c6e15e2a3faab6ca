//! The `[control]` section of `openchatd`'s config file, owned here with its validation;
//! openchatd embeds it and turns it into [`ControlOptions`] with what only the process knows.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{ControlOptions, SqliteSynchronous};

/// Control-plane limits and storage, as operators write them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControlSettings {
    /// Where uploaded avatars are stored; empty means `<data_dir>/avatars`.
    pub avatar_dir: String,
    /// Largest avatar upload, in bytes.
    pub avatar_max_bytes: usize,
    /// Most active devices per user.
    pub max_devices_per_user: u32,
    /// Largest key backup, in bytes.
    pub key_backup_max_bytes: usize,
}

impl Default for ControlSettings {
    fn default() -> Self {
        let options = ControlOptions::default();
        ControlSettings {
            avatar_dir: String::new(),
            avatar_max_bytes: options.avatar_max_bytes,
            max_devices_per_user: options.max_devices_per_user,
            key_backup_max_bytes: options.key_backup_max_bytes,
        }
    }
}

/// A `[control]` setting that cannot work: its key within the section and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct InvalidSetting {
    /// The key, as in [`ControlSettings`].
    pub key: &'static str,
    /// What is wrong.
    pub problem: &'static str,
}

impl ControlSettings {
    /// Checks the settings; the error names the key.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let bad = |key, problem| Err(InvalidSetting { key, problem });
        if self.max_devices_per_user == 0 {
            return bad("max_devices_per_user", "must be at least 1");
        }
        if self.avatar_max_bytes == 0 {
            return bad("avatar_max_bytes", "must be positive");
        }
        if self.key_backup_max_bytes == 0 {
            return bad("key_backup_max_bytes", "must be positive");
        }
        Ok(())
    }

    /// Where avatars go: `avatar_dir`, or `<data_dir>/avatars` when it is empty.
    pub fn avatar_dir(&self, data_dir: &std::path::Path) -> PathBuf {
        if self.avatar_dir.is_empty() {
            data_dir.join("avatars")
        } else {
            PathBuf::from(&self.avatar_dir)
        }
    }

    /// The options a process opens control with.
    pub fn options(
        &self,
        data_dir: &std::path::Path,
        dev_mode: bool,
        sqlite_synchronous: SqliteSynchronous,
    ) -> ControlOptions {
        ControlOptions {
            dev_mode,
            avatar_dir: Some(self.avatar_dir(data_dir)),
            avatar_max_bytes: self.avatar_max_bytes,
            max_devices_per_user: self.max_devices_per_user,
            key_backup_max_bytes: self.key_backup_max_bytes,
            sqlite_synchronous,
        }
    }
}
