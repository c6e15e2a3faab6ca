//! Process configuration: defaults -> TOML file -> `OPENCHAT_*` environment (`*_FILE` reads a
//! secret from a file) -> command-line flags. Validated once at start; unknown keys are errors.

mod layers;
mod secret;

pub use layers::{ConfigError, known_keys, load, load_text};
pub use secret::Secret;

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Development or production behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Dev token route, `srv_harbor` seed that admits anyone, generated signing keys.
    Development,
    /// None of the development shortcuts; keys must be configured.
    Production,
}

/// Access-token signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenAlgorithm {
    /// Shared secret.
    HS256,
    /// Ed25519 public key (tokens minted by an identity provider).
    EdDSA,
    /// RSA public key (tokens minted by an identity provider).
    RS256,
}

/// Everything `openchatd` reads from its configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `development` or `production`.
    pub mode: Mode,
    /// Directory for the SQLite database, generated keys and uploads.
    pub data_dir: PathBuf,
    /// HTTP listener.
    pub http: HttpConfig,
    /// Database.
    pub database: DatabaseConfig,
    /// Access tokens.
    pub auth: AuthConfig,
    /// Join tickets and rooms.
    pub rtc: RtcConfig,
    /// Media plane (UDP).
    pub media: sfu::MediaSettings,
    /// Logging.
    pub log: LogConfig,
    /// Rate limits.
    pub limits: LimitsConfig,
    /// Control-plane limits and storage.
    pub control: control::ControlSettings,
}

/// The smallest rate limit: one request per 1000 s (below that, a refused request's wait stops
/// meaning anything).
const MIN_RPS: f64 = 0.001;
/// The largest rate limit (benchmarks set 100000 to take the limiter out of the way).
const MAX_RPS: f64 = 1_000_000.0;

/// Token-bucket rate limits on authenticated routes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Requests per second per user.
    pub user_rps: f64,
    /// Burst per user.
    pub user_burst: u32,
    /// Requests per second per device.
    pub device_rps: f64,
    /// Burst per device.
    pub device_burst: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            user_rps: 50.0,
            user_burst: 200,
            device_rps: 20.0,
            device_burst: 100,
        }
    }
}

/// HTTP listener settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address and port of the HTTP API, signaling WebSocket and demo client.
    pub listen: SocketAddr,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Time allowed for a whole request head (request line and headers), counted from the
    /// connection's start or from the first byte of a later request; also bounds a new
    /// connection that sends nothing.
    pub header_read_timeout_secs: u64,
    /// An idle keep-alive connection (no request in flight, nothing received) is closed after
    /// this long.
    pub keep_alive_timeout_secs: u64,
    /// A WebSocket upgrade request must be answered (101) within this long after its head
    /// arrived, or the connection is closed.
    pub ws_upgrade_timeout_secs: u64,
    /// Most open connections (WebSockets included). 0: automatic, the open-file limit minus 256,
    /// at most 16384. Extra connections are closed at once.
    pub max_connections: usize,
    /// Most open connections per client IP address (IPv6: per /64). 0: no per-address limit.
    pub max_connections_per_ip: usize,
    /// The server pings every WebSocket this often.
    pub ws_ping_interval_secs: u64,
    /// A WebSocket that sends nothing (not even a pong) for this long is closed (4000
    /// `idle_timeout`).
    pub ws_idle_timeout_secs: u64,
    /// On SIGTERM/SIGINT, requests in flight get this long to finish.
    pub shutdown_grace_secs: u64,
}

/// Database settings.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://...` or `postgres://...`; empty means SQLite under `data_dir`.
    pub url: Secret,
    /// SQLite only: `full` (default; an acknowledged write survives power loss) or `normal`
    /// (survives a crash of the process only; faster commits on slow disks).
    pub sqlite_synchronous: control::SqliteSynchronous,
}

/// Access-token settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// `HS256`, `EdDSA` or `RS256`.
    pub algorithm: TokenAlgorithm,
    /// HS256 shared secret. Empty in development: generated under `data_dir`.
    pub secret: Secret,
    /// PEM public key file for EdDSA / RS256.
    pub public_key_file: Option<PathBuf>,
    /// Required `iss` claim.
    pub issuer: String,
    /// Required `aud` claim.
    pub audience: String,
    /// Lifetime of development tokens minted by `POST /v1/dev/token` and `openchatd token`.
    pub dev_token_ttl_secs: u64,
}

/// Join-ticket and room settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RtcConfig {
    /// Ticket lifetime.
    pub ticket_ttl_secs: u64,
    /// HMAC key for tickets. Empty: generated under `data_dir` (development) or per process.
    pub ticket_secret: Secret,
    /// This node's id, written into tickets.
    pub node_id: String,
    /// Most participants in one room.
    pub max_participants_per_room: usize,
    /// Keepalive interval announced to clients; 3 missed intervals close the session.
    pub keepalive_interval_ms: u64,
}

/// Logging settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `tracing` filter, e.g. `info` or `signaling=debug,sfu=debug`.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Development,
            data_dir: PathBuf::from("data"),
            http: HttpConfig::default(),
            database: DatabaseConfig::default(),
            auth: AuthConfig::default(),
            rtc: RtcConfig::default(),
            media: sfu::MediaSettings::default(),
            log: LogConfig::default(),
            limits: LimitsConfig::default(),
            control: control::ControlSettings::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 1 << 20,
            header_read_timeout_secs: 10,
            keep_alive_timeout_secs: 60,
            ws_upgrade_timeout_secs: 10,
            max_connections: 0,
            max_connections_per_ip: 256,
            ws_ping_interval_secs: 20,
            ws_idle_timeout_secs: 60,
            shutdown_grace_secs: 10,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            algorithm: TokenAlgorithm::HS256,
            secret: Secret::default(),
            public_key_file: None,
            issuer: "openchat".into(),
            audience: "openchat".into(),
            dev_token_ttl_secs: 86_400,
        }
    }
}

impl Default for RtcConfig {
    fn default() -> Self {
        RtcConfig {
            ticket_ttl_secs: 60,
            ticket_secret: Secret::default(),
            node_id: "local".into(),
            max_participants_per_room: 100,
            keepalive_interval_ms: 15_000,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

impl Config {
    /// Checks values that cannot work, with a message naming the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError::Invalid(format!("{key}: {why}")));
        if self.rtc.ticket_ttl_secs == 0 || self.rtc.ticket_ttl_secs > 3600 {
            return bad("rtc.ticket_ttl_secs", "must be 1..=3600");
        }
        if self.rtc.max_participants_per_room == 0 {
            return bad("rtc.max_participants_per_room", "must be at least 1");
        }
        if self.rtc.keepalive_interval_ms < 1000 {
            return bad("rtc.keepalive_interval_ms", "must be at least 1000");
        }
        // The sfu owns the `[media]` section and its rules.
        if let Err(e) = self.media.validate() {
            return bad(&format!("media.{}", e.key), e.problem);
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return bad("log.format", "must be text or json");
        }
        for (key, rps) in [
            ("limits.user_rps", self.limits.user_rps),
            ("limits.device_rps", self.limits.device_rps),
        ] {
            // NaN fails the range test too.
            if !(MIN_RPS..=MAX_RPS).contains(&rps) {
                return bad(key, "must be 0.001..=1000000 requests per second");
            }
        }
        if self.limits.user_burst == 0 || self.limits.device_burst == 0 {
            return bad(
                "limits.user_burst / limits.device_burst",
                "must be at least 1",
            );
        }
        // Control owns the `[control]` section and its rules.
        if let Err(e) = self.control.validate() {
            return bad(&format!("control.{}", e.key), e.problem);
        }
        if self.http.max_body_bytes < 1024 {
            return bad("http.max_body_bytes", "must be at least 1024");
        }
        for (key, secs) in [
            (
                "http.header_read_timeout_secs",
                self.http.header_read_timeout_secs,
            ),
            (
                "http.keep_alive_timeout_secs",
                self.http.keep_alive_timeout_secs,
            ),
            (
                "http.ws_upgrade_timeout_secs",
                self.http.ws_upgrade_timeout_secs,
            ),
            (
                "http.ws_ping_interval_secs",
                self.http.ws_ping_interval_secs,
            ),
            ("http.ws_idle_timeout_secs", self.http.ws_idle_timeout_secs),
        ] {
            if secs == 0 || secs > 86_400 {
                return bad(key, "must be 1..=86400");
            }
        }
        if self.http.ws_ping_interval_secs >= self.http.ws_idle_timeout_secs {
            return bad(
                "http.ws_ping_interval_secs",
                "must be below http.ws_idle_timeout_secs",
            );
        }
        if self.http.shutdown_grace_secs > 3600 {
            return bad("http.shutdown_grace_secs", "must be 0..=3600");
        }
        match (self.mode, self.auth.algorithm) {
            (Mode::Production, TokenAlgorithm::HS256) if self.auth.secret.is_empty() => {
                return bad("auth.secret", "required in production with HS256");
            }
            (_, TokenAlgorithm::EdDSA | TokenAlgorithm::RS256)
                if self.auth.public_key_file.is_none() =>
            {
                return bad("auth.public_key_file", "required for EdDSA and RS256");
            }
            _ => {}
        }
        if self.mode == Mode::Production && self.database.url.is_empty() {
            tracing::warn!("production mode with the embedded SQLite database");
        }
        Ok(())
    }

    /// Where avatars are stored.
    pub fn avatar_dir(&self) -> PathBuf {
        self.control.avatar_dir(&self.data_dir)
    }

    /// The database URL, defaulting to SQLite under `data_dir`.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("openchat.db").display())
        } else {
            self.database.url.expose().to_string()
        }
    }
}

#[cfg(test)]
mod tests;
