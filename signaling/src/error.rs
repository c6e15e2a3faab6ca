//! Why `openchatd` could not start, mint a token or keep serving. Library errors are typed
//! (`thiserror`); only the `openchatd` binary wraps them in `anyhow`.

use std::net::SocketAddr;
use std::path::PathBuf;

/// A failure to start or run the server, or to build its keys and token verifier.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A setting that must be present is missing (for example `auth.secret` in production).
    #[error("{0}")]
    MissingSetting(&'static str),
    /// A key file could not be read or created.
    #[error("cannot read or create {}: {source}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The configured access-token key is not a usable key.
    #[error("the access-token key is not usable: {0}")]
    AccessKey(#[source] jsonwebtoken::errors::Error),
    /// Tokens can only be minted with a shared secret (HS256).
    #[error("tokens can only be minted with HS256")]
    CannotMint,
    /// Signing a token failed.
    #[error("signing a token failed: {0}")]
    Signing(#[source] jsonwebtoken::errors::Error),
    /// The database could not be opened, migrated or seeded.
    #[error("{stage}: {source}")]
    Database {
        /// What was being done: `cannot open the database`, `migrations failed`, ...
        stage: &'static str,
        /// The cause.
        #[source]
        source: control::ControlError,
    },
    /// The media plane did not start.
    #[error("cannot start the media plane: {0}")]
    Media(#[source] sfu::SfuError),
    /// The HTTP listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The configured address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP accept loop ended abnormally.
    #[error("the HTTP server failed: {0}")]
    Serve(String),
}

impl ServerError {
    /// A database error at `stage`.
    pub(crate) fn database(
        stage: &'static str,
    ) -> impl FnOnce(control::ControlError) -> ServerError {
        move |source| ServerError::Database { stage, source }
    }
}
