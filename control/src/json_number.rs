//! Integers in JSON request bodies. JSON Schema's `integer` is any number whose fractional part
//! is zero, so `2`, `2.0` and `2e0` are the same integer; the OpenAPI document promises what
//! JSON Schema says, so the fields it calls integers read all three (serde alone takes only the
//! first), the last two up to 2^53 (where a float stops spelling every integer). Strings and
//! fractions are still refused.
//!
//! Use: `#[serde(deserialize_with = "crate::json_number::integer")]`, or
//! `#[serde(default, deserialize_with = "crate::json_number::optional_integer")]` for an
//! `Option`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserializer, Error, Unexpected, Visitor};

/// 2^53: beyond it an `f64` no longer spells every integer, and serde_json reads an integer
/// literal too large for `i64`/`u64` as a rounded `f64` (-2^63 - 1 would become -2^63). Whole
/// numbers written with a fraction or exponent are accepted up to this magnitude only.
const EXACT_F64: f64 = 9_007_199_254_740_992.0;

struct Whole<T>(PhantomData<T>);

impl<T: TryFrom<i64> + TryFrom<u64>> Visitor<'_> for Whole<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an integer in range")
    }

    fn visit_i64<E: Error>(self, v: i64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
    }

    fn visit_f64<E: Error>(self, v: f64) -> Result<T, E> {
        // Exact conversions only: a whole number an `f64` spells exactly.
        if v.fract() != 0.0 || !(-EXACT_F64..=EXACT_F64).contains(&v) {
            return Err(E::invalid_value(Unexpected::Float(v), &self));
        }
        self.visit_i64(v as i64)
    }
}

/// Reads an integer written as `2`, `2.0` or `2e0`.
pub(crate) fn integer<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    deserializer.deserialize_any(Whole(PhantomData))
}

/// Like [`integer`], for an optional field (`null` is `None`).
pub(crate) fn optional_integer<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    struct Optional<T>(PhantomData<T>);

    impl<'de, T: TryFrom<i64> + TryFrom<u64>> Visitor<'de> for Optional<T> {
        type Value = Option<T>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "an integer in range, or null")
        }

        fn visit_none<E: Error>(self) -> Result<Option<T>, E> {
            Ok(None)
        }

        fn visit_unit<E: Error>(self) -> Result<Option<T>, E> {
            Ok(None)
        }

        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Option<T>, D2::Error> {
            integer(d).map(Some)
        }
    }

    deserializer.deserialize_option(Optional(PhantomData))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Body {
        #[serde(deserialize_with = "super::integer")]
        epoch: i64,
        #[serde(default, deserialize_with = "super::optional_integer")]
        max_uses: Option<u32>,
    }

    fn read(json: &str) -> Option<Body> {
        serde_json::from_str(json).ok()
    }

    #[test]
    fn whole_numbers_in_any_spelling() {
        let body = |epoch, max_uses| Some(Body { epoch, max_uses });
        assert_eq!(read(r#"{"epoch": 2}"#), body(2, None));
        assert_eq!(
            read(r#"{"epoch": 2.0, "max_uses": 1e3}"#),
            body(2, Some(1000))
        );
        assert_eq!(read(r#"{"epoch": -7.0, "max_uses": null}"#), body(-7, None));
        assert_eq!(
            read(r#"{"epoch": 9223372036854775807}"#),
            body(i64::MAX, None)
        );
    }

    #[test]
    fn fractions_strings_and_out_of_range_are_refused() {
        assert_eq!(read(r#"{"epoch": 2.5}"#), None);
        assert_eq!(read(r#"{"epoch": "2"}"#), None);
        assert_eq!(read(r#"{"epoch": 1e19}"#), None);
        // Integer literals past i64 reach serde as rounded floats: refused, not clamped.
        assert_eq!(read(r#"{"epoch": -9223372036854775809}"#), None);
        assert_eq!(read(r#"{"epoch": 9223372036854775808}"#), None);
        assert_eq!(read(r#"{"epoch": 1e16}"#), None);
        assert_eq!(read(r#"{"epoch": 1, "max_uses": -1}"#), None);
        assert_eq!(read(r#"{"epoch": 1, "max_uses": 4294967296.0}"#), None);
        assert_eq!(read(r#"{"epoch": 1, "max_uses": "3"}"#), None);
    }
}
