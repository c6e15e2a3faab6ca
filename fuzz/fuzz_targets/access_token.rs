//! Access-token verification (`AccessTokens::verify`, every `/v1` route) and bearer extraction
//! (`auth::bearer`: the Authorization header, or `access_token` on WebSocket upgrades).
//!
//! Input: a mode byte, then: a raw token for the HS256 or the EdDSA verifier; claims JSON (and
//! optionally header JSON before a 0xFF byte) signed with the HS256 key; or an Authorization
//! header value and a query string (split at the first 0xFF) for `bearer`.
#![no_main]

use std::sync::OnceLock;

use axum::extract::Request;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use openchat_protocol::Alphabet;
use signaling::auth::{AccessTokens, bearer};
use signaling::config::{AuthConfig, Secret, TokenAlgorithm};
use signaling::keys::Keys;

const SECRET: &str = "fuzz-access-secret";
const DEFAULT_HEADER: &[u8] = br#"{"alg":"HS256","typ":"JWT"}"#;
/// An Ed25519 public key (its private half was thrown away): tokens for it cannot be forged.
const ED25519_PUBLIC_PEM: &[u8] = b"-----BEGIN PUBLIC KEY-----\n\
MCowBQYDK2VwAyEAFiEWeZAgpxG0eRyraq3gn0plL7NHkWTUkVvvlP6x3bA=\n\
-----END PUBLIC KEY-----\n";

struct Verifiers {
    hs256: AccessTokens,
    eddsa: AccessTokens,
}

fn verifiers() -> &'static Verifiers {
    static V: OnceLock<Verifiers> = OnceLock::new();
    V.get_or_init(|| {
        let keys = Keys {
            access_secret: Some(Secret::new(SECRET)),
            access_public_pem: Some(ED25519_PUBLIC_PEM.to_vec()),
            ticket_secret: Secret::new("unused"),
        };
        let hs256 = AccessTokens::new(&AuthConfig::default(), &keys).expect("HS256 verifier");
        let eddsa_config = AuthConfig {
            algorithm: TokenAlgorithm::EdDSA,
            ..AuthConfig::default()
        };
        let eddsa = AccessTokens::new(&eddsa_config, &keys).expect("EdDSA verifier");
        Verifiers { hs256, eddsa }
    })
}

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

fn split_ff(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|&b| b == 0xFF)?;
    Some((&bytes[..at], &bytes[at + 1..]))
}

fn check_bearer(rest: &[u8]) {
    let (header, query) = split_ff(rest).unwrap_or((rest, b""));
    let query = String::from_utf8_lossy(query);
    let uri = format!("/v1/rtc/signaling?{query}");
    let mut builder = Request::builder()
        .uri(uri.as_str())
        .header("upgrade", "websocket");
    if !header.is_empty() {
        builder = builder.header("authorization", header);
    }
    let Ok(request) = builder.body(axum::body::Body::empty()) else {
        return;
    };
    if let Ok(token) = bearer(&request) {
        let _ = verifiers().hs256.verify(token);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let v = verifiers();
    let (verifier, token, signed) = match mode % 4 {
        0 => (&v.hs256, String::from_utf8_lossy(rest).into_owned(), false),
        1 => (&v.eddsa, String::from_utf8_lossy(rest).into_owned(), false),
        2 => {
            let (header, claims) = split_ff(rest).unwrap_or((DEFAULT_HEADER, rest));
            let Some(token) = sign(header, claims) else {
                return;
            };
            (&v.hs256, token, true)
        }
        _ => return check_bearer(rest),
    };
    if let Ok(caller) = verifier.verify(&token) {
        assert!(signed, "a token not signed with the key was accepted");
        // Typed ids: re-checked here against the alphabet itself.
        assert!(Alphabet::PRINCIPAL.accepts(&caller.user_id), "{:?}", caller.user_id);
        assert!(Alphabet::PRINCIPAL.accepts(&caller.device_id), "{:?}", caller.device_id);
    }
});
