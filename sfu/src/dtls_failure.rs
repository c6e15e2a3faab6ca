//! Why a peer's DTLS failed, from str0m's error, in words a person understands.
//!
//! str0m reports a DTLS handshake failure as `RtcError::Dtls` with dimpl's error text, and a
//! certificate that does not match the SDP as `RtcError::RemoteSdp`. [`DtlsFailure::classify`]
//! turns both into a stable reason (a `/metrics` label) and a message for the client; any other
//! error is not a DTLS failure.

use std::fmt;

use str0m::RtcError;

/// Why the DTLS handshake or the certificate check failed. The wire form ([`as_str`]) labels
/// `openchat_sfu_dtls_failures_total`.
///
/// [`as_str`]: DtlsFailureReason::as_str
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtlsFailureReason {
    /// The client's certificate does not match the `a=fingerprint` of its SDP.
    FingerprintMismatch,
    /// The client's SDP has no `a=fingerprint` to check its certificate against.
    FingerprintMissing,
    /// The `a=fingerprint` uses a hash function the server does not compute.
    FingerprintHashUnsupported,
    /// The client sent no certificate.
    NoCertificate,
    /// The client's certificate or its `CertificateVerify` signature was not accepted.
    CertificateRejected,
    /// The client aborted the handshake with a fatal alert.
    PeerAlert,
    /// The client stopped answering in the middle of the handshake.
    HandshakeTimeout,
    /// Any other handshake failure (no common cipher suite, malformed messages, ...).
    Handshake,
}

impl DtlsFailureReason {
    /// Every reason, in a fixed order (the order of the counters in the stats).
    pub const ALL: [DtlsFailureReason; 8] = [
        DtlsFailureReason::FingerprintMismatch,
        DtlsFailureReason::FingerprintMissing,
        DtlsFailureReason::FingerprintHashUnsupported,
        DtlsFailureReason::NoCertificate,
        DtlsFailureReason::CertificateRejected,
        DtlsFailureReason::PeerAlert,
        DtlsFailureReason::HandshakeTimeout,
        DtlsFailureReason::Handshake,
    ];

    /// Stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            DtlsFailureReason::FingerprintMismatch => "fingerprint_mismatch",
            DtlsFailureReason::FingerprintMissing => "fingerprint_missing",
            DtlsFailureReason::FingerprintHashUnsupported => "fingerprint_hash_unsupported",
            DtlsFailureReason::NoCertificate => "no_certificate",
            DtlsFailureReason::CertificateRejected => "certificate_rejected",
            DtlsFailureReason::PeerAlert => "peer_alert",
            DtlsFailureReason::HandshakeTimeout => "handshake_timeout",
            DtlsFailureReason::Handshake => "handshake",
        }
    }

    /// Position in [`DtlsFailureReason::ALL`].
    pub fn index(self) -> usize {
        DtlsFailureReason::ALL
            .iter()
            .position(|r| *r == self)
            .unwrap_or(DtlsFailureReason::ALL.len() - 1)
    }
}

/// A DTLS failure: its reason, the message the client gets, and the library's own words for
/// the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DtlsFailure {
    /// Stable reason.
    pub reason: DtlsFailureReason,
    /// What went wrong, for the client (no internals).
    pub message: String,
    /// str0m's / dimpl's error text, for the log.
    pub cause: String,
}

/// What the server accepts, said in messages about refused certificates.
const ACCEPTED: &str = "accepted: ECDSA P-256 or P-384, or RSA 2048 to 8192 bits signing with \
                        PKCS#1 v1.5 SHA-256/384/512";

impl DtlsFailure {
    /// The DTLS failure `error` reports, or `None` if it is not one.
    pub fn classify(error: &RtcError) -> Option<DtlsFailure> {
        match error {
            RtcError::RemoteSdp(text) => Self::from_fingerprint_check(text),
            RtcError::Dtls(e) => Some(Self::from_handshake_error(&e.to_string())),
            _ => None,
        }
    }

    fn new(reason: DtlsFailureReason, message: impl Into<String>, cause: &str) -> DtlsFailure {
        DtlsFailure {
            reason,
            message: message.into(),
            cause: cause.to_string(),
        }
    }

    /// str0m's fingerprint check, which runs when the client's certificate arrives.
    fn from_fingerprint_check(text: &str) -> Option<DtlsFailure> {
        use DtlsFailureReason as R;
        if text.contains("fingerprint no match") {
            return Some(Self::new(
                R::FingerprintMismatch,
                "the client's DTLS certificate does not match the a=fingerprint of its offer",
                text,
            ));
        }
        if text.contains("no a=fingerprint") {
            return Some(Self::new(
                R::FingerprintMissing,
                "the offer has no a=fingerprint, so the client's DTLS certificate cannot be checked",
                text,
            ));
        }
        if let Some(hash) = text.strip_prefix("unsupported fingerprint hash function: ") {
            return Some(Self::new(
                R::FingerprintHashUnsupported,
                format!(
                    "the offer's a=fingerprint uses hash function {hash:?}; use sha-256 (or sha-1)"
                ),
                text,
            ));
        }
        None
    }

    /// A handshake error from dimpl (as str0m words it: `DTLS error: <dimpl error>`).
    fn from_handshake_error(text: &str) -> DtlsFailure {
        use DtlsFailureReason as R;
        let detail = text.strip_prefix("DTLS error: ").unwrap_or(text);
        if let Some(code) = detail
            .split("fatal alert: description=")
            .nth(1)
            .and_then(|d| d.trim().parse::<u8>().ok())
        {
            return Self::new(
                R::PeerAlert,
                format!(
                    "the client aborted the DTLS handshake with fatal alert {code} ({})",
                    alert_name(code)
                ),
                text,
            );
        }
        if detail.contains("no client certificate") {
            return Self::new(
                R::NoCertificate,
                format!(
                    "the client sent no DTLS certificate; a WebRTC client must present one \
                     ({ACCEPTED})"
                ),
                text,
            );
        }
        let certificate_words = ["certificate", "signature", "public key", "EC curve"];
        if (detail.starts_with("certificate error:") || detail.starts_with("crypto error:"))
            && certificate_words.iter().any(|w| detail.contains(w))
        {
            return Self::new(
                R::CertificateRejected,
                format!("the client's DTLS certificate or its signature was refused ({ACCEPTED})"),
                text,
            );
        }
        if detail.starts_with("timeout:") {
            return Self::new(
                R::HandshakeTimeout,
                "the DTLS handshake did not complete: the client stopped answering",
                text,
            );
        }
        let words = match detail {
            d if d.contains("cipher suite") => "no cipher suite in common (the server offers \
                                                ECDHE-ECDSA with AES-GCM or ChaCha20-Poly1305)"
                .to_string(),
            d if d.contains("key exchange group") => {
                "no key exchange group in common (the server offers X25519, P-256, P-384)"
                    .to_string()
            }
            d if d.contains("extended master secret") => {
                "the client does not support the extended master secret (RFC 7627)".to_string()
            }
            d if d.contains("version") => {
                "unsupported DTLS version (the server speaks DTLS 1.2)".to_string()
            }
            _ => "the DTLS handshake failed".to_string(),
        };
        Self::new(R::Handshake, words, text)
    }
}

impl fmt::Display for DtlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The name of a TLS alert description (RFC 5246 section 7.2, RFC 8446 section 6).
fn alert_name(code: u8) -> &'static str {
    match code {
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        109 => "missing_extension",
        110 => "unsupported_extension",
        _ => "unknown alert",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use str0m::crypto::{CryptoError, DtlsError};

    /// An error as str0m reports a dimpl handshake error.
    fn dimpl(text: &str) -> RtcError {
        RtcError::Dtls(DtlsError::CryptoError(CryptoError::Other(format!(
            "DTLS error: {text}"
        ))))
    }

    fn reason(error: &RtcError) -> Option<DtlsFailureReason> {
        DtlsFailure::classify(error).map(|f| f.reason)
    }

    #[test]
    fn fingerprint_checks_are_named() {
        let mismatch = RtcError::RemoteSdp("remote fingerprint no match".into());
        let failure = DtlsFailure::classify(&mismatch).expect("a DTLS failure");
        assert_eq!(failure.reason, DtlsFailureReason::FingerprintMismatch);
        assert!(failure.message.contains("a=fingerprint"), "{failure}");
        assert_eq!(
            reason(&RtcError::RemoteSdp("no a=fingerprint before dtls".into())),
            Some(DtlsFailureReason::FingerprintMissing)
        );
        let md5 = RtcError::RemoteSdp("unsupported fingerprint hash function: md5".into());
        let failure = DtlsFailure::classify(&md5).expect("a DTLS failure");
        assert_eq!(
            failure.reason,
            DtlsFailureReason::FingerprintHashUnsupported
        );
        assert!(failure.message.contains("\"md5\""), "{failure}");
    }

    #[test]
    fn other_sdp_errors_are_not_dtls_failures() {
        assert_eq!(reason(&RtcError::RemoteSdp("bad m-line".into())), None);
        assert_eq!(reason(&RtcError::NoSenderSource), None);
    }

    #[test]
    fn dimpl_handshake_errors_are_classified() {
        let cases = [
            (
                "security error: received fatal alert: description=40",
                DtlsFailureReason::PeerAlert,
            ),
            (
                "certificate error: no client certificate received",
                DtlsFailureReason::NoCertificate,
            ),
            (
                "crypto error: unsupported public key algorithm",
                DtlsFailureReason::CertificateRejected,
            ),
            (
                "crypto error: signature verification failed",
                DtlsFailureReason::CertificateRejected,
            ),
            (
                "certificate error: failed to parse certificate",
                DtlsFailureReason::CertificateRejected,
            ),
            ("timeout: handshake", DtlsFailureReason::HandshakeTimeout),
            (
                "security error: no mutually acceptable cipher suite",
                DtlsFailureReason::Handshake,
            ),
            ("receive queue full", DtlsFailureReason::Handshake),
        ];
        for (text, want) in cases {
            assert_eq!(reason(&dimpl(text)), Some(want), "{text}");
        }
    }

    #[test]
    fn messages_speak_to_people_and_keep_the_cause_for_the_log() {
        let alert = DtlsFailure::classify(&dimpl(
            "security error: received fatal alert: description=42",
        ))
        .expect("a DTLS failure");
        assert!(alert.message.contains("bad_certificate"), "{alert}");
        assert!(alert.cause.contains("description=42"));
        let suites = DtlsFailure::classify(&dimpl(
            "security error: no mutually acceptable cipher suite",
        ))
        .expect("a DTLS failure");
        assert!(
            suites.message.contains("cipher suite in common"),
            "{suites}"
        );
        assert!(!suites.message.contains("security error"), "{suites}");
    }

    #[test]
    fn every_reason_has_its_own_counter_slot() {
        for (i, r) in DtlsFailureReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
    }
}
