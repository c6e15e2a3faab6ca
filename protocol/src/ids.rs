//! Identifier alphabets and the typed ids built on them. Every id that crosses the wire (tokens,
//! tickets, control routes, signaling frames) belongs to one of two alphabets, stated once here:
//! the docs, the OpenAPI patterns and every validator are checked against [`Alphabet::pattern`].

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// A set of accepted id strings: ASCII letters and digits plus a few punctuation bytes, 1 to
/// `max_len` bytes long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alphabet {
    /// What the ids of this alphabet name, for error messages.
    pub name: &'static str,
    /// Punctuation accepted besides `A-Z`, `a-z` and `0-9`.
    pub punctuation: &'static [u8],
    /// Longest accepted id, in bytes.
    pub max_len: usize,
}

impl Alphabet {
    /// Resources: servers, channels, messages, proposals, client message ids, participants and
    /// tracks. `[A-Za-z0-9_-]{1,64}`.
    pub const RESOURCE: Alphabet = Alphabet {
        name: "resource id",
        punctuation: b"_-",
        max_len: 64,
    };

    /// Principals: users and devices (token subjects). `[A-Za-z0-9_.-]{1,64}`.
    pub const PRINCIPAL: Alphabet = Alphabet {
        name: "user or device id",
        punctuation: b"_.-",
        max_len: 64,
    };

    /// Whether `id` belongs to this alphabet.
    pub fn accepts(&self, id: &str) -> bool {
        !id.is_empty()
            && id.len() <= self.max_len
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || self.punctuation.contains(&b))
    }

    /// The alphabet as a regular expression without anchors, e.g. `[A-Za-z0-9_-]{1,64}`: the
    /// form the docs and error messages state.
    pub fn pattern(&self) -> String {
        let punctuation: String = self.punctuation.iter().map(|&b| char::from(b)).collect();
        format!("[A-Za-z0-9{punctuation}]{{1,{}}}", self.max_len)
    }

    /// The anchored pattern, as OpenAPI schemas state it: `^[A-Za-z0-9_-]{1,64}$`.
    pub fn anchored_pattern(&self) -> String {
        format!("^{}$", self.pattern())
    }
}

/// An id string that its alphabet refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidId {
    /// The kind of id, e.g. `"channel id"`.
    pub kind: &'static str,
    /// The alphabet it had to belong to.
    pub alphabet: Alphabet,
}

impl fmt::Display for InvalidId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} must match {}", self.kind, self.alphabet.pattern())
    }
}

impl std::error::Error for InvalidId {}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $alphabet:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The alphabet ids of this kind belong to.
            pub const ALPHABET: Alphabet = $alphabet;

            /// Validates `id` against [`Self::ALPHABET`].
            pub fn parse(id: impl Into<String>) -> Result<Self, InvalidId> {
                let id = id.into();
                if Self::ALPHABET.accepts(&id) {
                    Ok(Self(id))
                } else {
                    Err(InvalidId { kind: $kind, alphabet: Self::ALPHABET })
                }
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id's text, by value.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;
            fn from_str(id: &str) -> Result<Self, InvalidId> {
                Self::parse(id)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let id = String::deserialize(deserializer)?;
                Self::parse(id).map_err(serde::de::Error::custom)
            }
        }
    };
}

typed_id!(
    /// A user (an access token's `sub`).
    UserId,
    "user id",
    Alphabet::PRINCIPAL
);
typed_id!(
    /// One of a user's devices (an access token's `did`).
    DeviceId,
    "device id",
    Alphabet::PRINCIPAL
);
typed_id!(
    /// A server (community).
    ServerId,
    "server id",
    Alphabet::RESOURCE
);
typed_id!(
    /// A channel; a voice or video channel is also a room.
    ChannelId,
    "channel id",
    Alphabet::RESOURCE
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_state_the_alphabets() {
        assert_eq!(Alphabet::RESOURCE.pattern(), "[A-Za-z0-9_-]{1,64}");
        assert_eq!(Alphabet::PRINCIPAL.pattern(), "[A-Za-z0-9_.-]{1,64}");
        assert_eq!(
            Alphabet::PRINCIPAL.anchored_pattern(),
            "^[A-Za-z0-9_.-]{1,64}$"
        );
    }

    #[test]
    fn boundaries() {
        for alphabet in [Alphabet::RESOURCE, Alphabet::PRINCIPAL] {
            assert!(alphabet.accepts("a"));
            assert!(alphabet.accepts("A-z_9"));
            assert!(alphabet.accepts(&"x".repeat(64)));
            assert!(!alphabet.accepts(&"x".repeat(65)));
            assert!(!alphabet.accepts(""));
            for bad in ["a b", "a/b", "é", "a\0", "a:b", "a+b", "a%2e"] {
                assert!(!alphabet.accepts(bad), "{bad:?}");
            }
        }
        assert!(Alphabet::PRINCIPAL.accepts("alice.smith"));
        assert!(!Alphabet::RESOURCE.accepts("alice.smith"));
    }

    #[test]
    fn typed_ids_validate_when_deserialized() {
        let user: UserId = serde_json::from_str("\"alice.smith\"").expect("a principal");
        assert_eq!(user.as_str(), "alice.smith");
        assert_eq!(
            serde_json::to_string(&user).expect("serializes"),
            "\"alice.smith\""
        );
        let refused = serde_json::from_str::<ChannelId>("\"vc.general\"").expect_err("no dots");
        assert!(
            refused
                .to_string()
                .contains("channel id must match [A-Za-z0-9_-]{1,64}")
        );
        assert!(ServerId::parse("x".repeat(65)).is_err());
        assert_eq!(
            DeviceId::parse("d 1").expect_err("space").to_string(),
            "device id must match [A-Za-z0-9_.-]{1,64}"
        );
    }
}
