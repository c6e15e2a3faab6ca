//! Join-ticket redemption (`Tickets::redeem`), the first frame of every signaling session.
//!
//! Input: a mode byte, then either a whole ticket (raw mode: forgeries, truncations, bad
//! base64/JSON, alg confusion) or, in signed mode, the claims JSON (and optionally the header
//! JSON before a 0xFF byte) that the harness signs with the authority's own key, so the claim
//! decoding and checks behind the signature are reached too.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use signaling::config::Secret;
use signaling::tickets::{TICKET_AUDIENCE, TicketError, Tickets};

const SECRET: &str = "fuzz-ticket-secret";
const NODE: &str = "fuzz-node";
const DEFAULT_HEADER: &[u8] = br#"{"alg":"HS256","typ":"JWT"}"#;

/// `header.claims.signature`, signed with HS256 under `SECRET` whatever the header says.
fn sign(header: &[u8], claims: &[u8]) -> Option<String> {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).ok()?;
    Some(format!("{message}.{signature}"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let token = if mode & 1 == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        let (header, claims) = match rest.iter().position(|&b| b == 0xFF) {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (DEFAULT_HEADER, rest),
        };
        let Some(token) = sign(header, claims) else {
            return;
        };
        token
    };
    // A fresh authority per input: the memory of redeemed ids stays one input long.
    let tickets = Tickets::new(&Secret::new(SECRET), 60, NODE);
    match tickets.redeem(&token) {
        Ok(claims) => {
            assert_eq!(mode & 1, 1, "a ticket not signed with the key was accepted");
            assert_eq!(claims.node, NODE);
            assert_eq!(claims.aud, TICKET_AUDIENCE);
            assert!(claims.exp > signaling::auth::unix_now());
            assert_eq!(tickets.redeem(&token), Err(TicketError::Replayed));
        }
        Err(_) => {}
    }
});
