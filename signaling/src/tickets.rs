//! Join tickets: short-lived, single-use JWTs that admit one device to one room.

use std::collections::HashMap;
use std::sync::Mutex;

use control::Caller;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use openchat_protocol::{ChannelId, Grants, ServerId};

use crate::auth::unix_now;
use crate::config::Secret;

/// Audience of every ticket.
pub const TICKET_AUDIENCE: &str = "openchat-rtc";

pub use openchat_protocol::TicketClaims;

/// The room a ticket admits to, as control decided it.
#[derive(Clone, Debug)]
pub struct TicketRoom {
    /// The channel (room).
    pub channel_id: ChannelId,
    /// The server the channel belongs to.
    pub server_id: ServerId,
    /// The room kind (`voice`, `video`).
    pub kind: &'static str,
    /// What the holder may publish.
    pub grants: Grants,
}

/// Why a ticket was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// Forged, malformed, or for another audience.
    #[error("the join ticket is not valid")]
    Invalid,
    /// Past its expiry.
    #[error("the join ticket has expired")]
    Expired,
    /// Already used.
    #[error("the join ticket was already used")]
    Replayed,
}

impl TicketError {
    /// Stable code.
    pub fn code(self) -> openchat_protocol::ErrorCode {
        use openchat_protocol::ErrorCode;
        match self {
            TicketError::Invalid => ErrorCode::TicketInvalid,
            TicketError::Expired => ErrorCode::TicketExpired,
            TicketError::Replayed => ErrorCode::TicketReplayed,
        }
    }
}

/// Mints and redeems tickets. Redeemed ids are remembered until the ticket would have expired.
///
/// A ticket names the sfu node it was issued for and is only redeemed there, so this node-local
/// memory of redeemed ids is enough to make tickets single-use across edge replicas.
pub struct Tickets {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: u64,
    node: String,
    used: Mutex<HashMap<String, u64>>,
}

impl Tickets {
    /// A ticket authority for sfu node `node`, with `secret` and ticket lifetime `ttl_secs`.
    pub fn new(secret: &Secret, ttl_secs: u64, node: &str) -> Tickets {
        let bytes = secret.expose().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[TICKET_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud", "sub", "jti"]);
        validation.leeway = 0;
        Tickets {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
            ttl_secs,
            node: node.to_string(),
            used: Mutex::new(HashMap::new()),
        }
    }

    /// Ticket lifetime.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// Signs a ticket admitting `holder` to `room`; fills in `jti`, `iat`, `exp` and `aud`.
    pub fn mint(
        &self,
        holder: &Caller,
        room: TicketRoom,
    ) -> Result<(String, TicketClaims), jsonwebtoken::errors::Error> {
        let now = unix_now();
        let claims = TicketClaims {
            sub: holder.user_id.clone(),
            did: holder.device_id.clone(),
            chn: room.channel_id,
            srv: room.server_id,
            knd: room.kind.into(),
            grt: room.grants,
            node: self.node.clone(),
            jti: uuid::Uuid::new_v4().simple().to_string(),
            exp: now + self.ttl_secs,
            iat: now,
            aud: TICKET_AUDIENCE.into(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, claims))
    }

    /// Verifies a ticket and consumes it: a second redemption is refused.
    pub fn redeem(&self, ticket: &str) -> Result<TicketClaims, TicketError> {
        if ticket.len() > 4096 {
            return Err(TicketError::Invalid);
        }
        let claims = jsonwebtoken::decode::<TicketClaims>(ticket, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TicketError::Expired,
                _ => TicketError::Invalid,
            })?
            .claims;
        let now = unix_now();
        if claims.exp <= now {
            return Err(TicketError::Expired);
        }
        if claims.node != self.node {
            return Err(TicketError::Invalid);
        }
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        used.retain(|_, exp| *exp > now);
        if used.insert(claims.jti.clone(), claims.exp).is_some() {
            return Err(TicketError::Replayed);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authority(ttl: u64) -> Tickets {
        Tickets::new(&Secret::new("test-ticket-secret"), ttl, "local")
    }

    fn mint(t: &Tickets) -> String {
        let holder = Caller {
            user_id: "alice".parse().expect("user id"),
            device_id: "laptop".parse().expect("device id"),
        };
        let room = TicketRoom {
            channel_id: "vc_general".parse().expect("channel id"),
            server_id: "srv_harbor".parse().expect("server id"),
            kind: "voice",
            grants: Grants::default(),
        };
        t.mint(&holder, room).expect("mint").0
    }

    #[test]
    fn single_use() {
        let t = authority(60);
        let ticket = mint(&t);
        let claims = t.redeem(&ticket).expect("first use");
        assert_eq!(claims.chn, "vc_general");
        assert_eq!(t.redeem(&ticket), Err(TicketError::Replayed));
    }

    #[test]
    fn forged_and_garbage_are_invalid() {
        let t = authority(60);
        let other = Tickets::new(&Secret::new("another-secret"), 60, "local");
        assert_eq!(t.redeem(&mint(&other)), Err(TicketError::Invalid));
        let other_node = Tickets::new(&Secret::new("test-ticket-secret"), 60, "node-b");
        assert_eq!(
            t.redeem(&mint(&other_node)),
            Err(TicketError::Invalid),
            "issued for another node"
        );
        assert_eq!(t.redeem("not.a.jwt"), Err(TicketError::Invalid));
        assert_eq!(t.redeem(""), Err(TicketError::Invalid));
        assert_eq!(t.redeem(&"x".repeat(10_000)), Err(TicketError::Invalid));
    }

    #[test]
    fn expired_is_refused() {
        let t = authority(60);
        let now = unix_now();
        let claims = TicketClaims {
            sub: "a".parse().expect("user id"),
            did: "d".parse().expect("device id"),
            chn: "c".parse().expect("channel id"),
            srv: "s".parse().expect("server id"),
            knd: "voice".into(),
            grt: openchat_protocol::Grants::default(),
            node: "n".into(),
            jti: "j".into(),
            exp: now - 10,
            iat: now - 70,
            aud: TICKET_AUDIENCE.into(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &t.encoding)
            .expect("encode");
        assert_eq!(t.redeem(&token), Err(TicketError::Expired));
    }
}
