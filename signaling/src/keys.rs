//! Signing keys: configured, or generated once into the data directory in development.

use std::path::Path;

use base64::Engine;
use rand::RngCore;

use crate::config::{Config, Mode, Secret, TokenAlgorithm};
use crate::error::ServerError;

/// The keys `openchatd` signs and verifies with.
#[derive(Clone)]
pub struct Keys {
    /// HS256 access-token secret, when that algorithm is used.
    pub access_secret: Option<Secret>,
    /// PEM public key for EdDSA / RS256 access tokens.
    pub access_public_pem: Option<Vec<u8>>,
    /// HMAC key for join tickets.
    pub ticket_secret: Secret,
}

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Reads `path`, or creates it with a fresh random secret (mode 0600).
fn load_or_create(path: &Path) -> Result<(Secret, bool), ServerError> {
    try_load_or_create(path).map_err(|source| ServerError::KeyFile {
        path: path.to_path_buf(),
        source,
    })
}

fn try_load_or_create(path: &Path) -> std::io::Result<(Secret, bool)> {
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => return Ok((Secret::new(s.trim()), false)),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let secret = random_secret();
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &secret)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&tmp, path)?;
    Ok((Secret::new(secret), true))
}

impl Keys {
    /// Resolves keys from the configuration, generating development keys when allowed.
    pub fn resolve(config: &Config) -> Result<Keys, ServerError> {
        let dev = config.mode == Mode::Development;
        let access_secret = match config.auth.algorithm {
            TokenAlgorithm::HS256 if !config.auth.secret.is_empty() => {
                Some(config.auth.secret.clone())
            }
            TokenAlgorithm::HS256 if dev => {
                let path = config.data_dir.join("dev-signing-key");
                let (secret, created) = load_or_create(&path)?;
                tracing::warn!(
                    path = %path.display(),
                    created,
                    "DEVELOPMENT SIGNING KEY in use for access tokens: anyone with this file can mint tokens. \
                     Never run production with it (set mode = \"production\" and auth.secret)."
                );
                Some(secret)
            }
            TokenAlgorithm::HS256 => {
                return Err(ServerError::MissingSetting(
                    "auth.secret is required in production",
                ));
            }
            _ => None,
        };
        let access_public_pem = match &config.auth.public_key_file {
            Some(path) => Some(std::fs::read(path).map_err(|source| ServerError::KeyFile {
                path: path.clone(),
                source,
            })?),
            None => None,
        };
        let ticket_secret = if !config.rtc.ticket_secret.is_empty() {
            config.rtc.ticket_secret.clone()
        } else if dev {
            load_or_create(&config.data_dir.join("ticket-key"))?.0
        } else {
            tracing::warn!(
                "rtc.ticket_secret is not set: using a per-process key, so tickets are only valid on this node"
            );
            Secret::new(random_secret())
        };
        Ok(Keys {
            access_secret,
            access_public_pem,
            ticket_secret,
        })
    }
}
