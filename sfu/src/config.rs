//! Sfu configuration (owned by the sfu; signaling fills it from the process config).

use std::net::IpAddr;
use std::time::Duration;

/// How the media plane binds and behaves.
#[derive(Clone, Debug)]
pub struct SfuConfig {
    /// Address the UDP sockets bind to.
    pub bind_ip: IpAddr,
    /// First UDP port; worker `i` binds `base_port + i`. 0 picks ephemeral ports.
    pub base_port: u16,
    /// Number of worker threads (each owns one UDP port).
    pub workers: usize,
    /// Address advertised in ICE host candidates (defaults to `bind_ip`).
    pub advertised_ip: Option<IpAddr>,
    /// Drop a peer after this long without any packet from it (ICE consent lapsed).
    pub peer_timeout: Duration,
    /// Drop a peer that has not completed ICE+DTLS within this long of joining.
    pub connect_timeout: Duration,
    /// End a peer (`negotiation_timeout`) that has not answered a server offer within this long.
    pub negotiation_timeout: Duration,
}

impl Default for SfuConfig {
    fn default() -> Self {
        SfuConfig {
            bind_ip: IpAddr::from([127, 0, 0, 1]),
            base_port: 0,
            workers: 1,
            advertised_ip: None,
            peer_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(30),
            negotiation_timeout: Duration::from_secs(10),
        }
    }
}

impl SfuConfig {
    /// Checks the values that cannot work.
    pub fn validate(&self) -> Result<(), String> {
        if self.workers == 0 || self.workers > 256 {
            return Err(format!("workers must be 1..=256, got {}", self.workers));
        }
        if self.base_port != 0 && usize::from(self.base_port) + self.workers > 65536 {
            return Err("base_port + workers exceeds 65535".into());
        }
        if self.bind_ip.is_unspecified() && self.advertised_ip.is_none() {
            return Err("bind_ip is unspecified (0.0.0.0/::): set advertised_ip".into());
        }
        if self.negotiation_timeout < Duration::from_secs(1) {
            return Err("negotiation_timeout must be at least 1 s".into());
        }
        if self.peer_timeout < Duration::from_secs(2) {
            return Err("peer_timeout must be at least 2 s".into());
        }
        Ok(())
    }
}
