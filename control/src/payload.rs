//! Opaque base64 payloads (commits, welcomes, message ciphertexts, key envelopes, key packages,
//! key backups) and their size limits: one rule for all of them.
//!
//! A limit of `N` bytes is applied to the base64 text: at most [`max_chars`]`(N)` characters,
//! that is `N` rounded up to whole 3-byte groups (so up to 2 bytes more than `N` pass). Stated on
//! the text, the limit is what the OpenAPI schema says with `maxLength` and the canonical base64
//! pattern, exactly (`http::openapi::schemas::base64`); and nothing over the limit is decoded.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Longest base64 text of a payload limited to `max_bytes`: `4 * ceil(max_bytes / 3)`.
pub const fn max_chars(max_bytes: usize) -> usize {
    max_bytes.div_ceil(3) * 4
}

/// Why a payload was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PayloadError {
    /// Longer than [`max_chars`] (answered 413).
    TooLarge,
    /// Not canonical standard base64 with padding (answered 400).
    Malformed,
}

/// The decoded length of `b64`, a payload limited to `max_bytes`. The size is checked first, on
/// the text.
pub(crate) fn decoded_len(b64: &str, max_bytes: usize) -> Result<usize, PayloadError> {
    if b64.len() > max_chars(max_bytes) {
        return Err(PayloadError::TooLarge);
    }
    STANDARD
        .decode(b64)
        .map(|bytes| bytes.len())
        .map_err(|_| PayloadError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_apply_to_the_text() {
        assert_eq!(max_chars(64 * 1024), 87_384);
        assert_eq!(max_chars(3), 4);
        assert_eq!(decoded_len("aGVsbG8=", 5), Ok(5));
        assert_eq!(decoded_len("", 5), Ok(0));
        assert_eq!(decoded_len("not base64!", 64), Err(PayloadError::Malformed));
        // Non-zero unused bits of the last symbol are refused (canonical only).
        assert_eq!(decoded_len("aGVsbG9=", 64), Err(PayloadError::Malformed));
        // 64 KiB rounded up to whole groups: 65,538 bytes pass, one more group does not.
        let at_limit = "AAAA".repeat(21_846);
        assert_eq!(decoded_len(&at_limit, 64 * 1024), Ok(65_538));
        let over = at_limit + "AA==";
        assert_eq!(decoded_len(&over, 64 * 1024), Err(PayloadError::TooLarge));
        // Too long and malformed: the size answers first.
        assert_eq!(
            decoded_len(&"!".repeat(87_385), 64 * 1024),
            Err(PayloadError::TooLarge)
        );
    }
}
