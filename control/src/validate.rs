//! Input rules shared by every entry point (HTTP or direct calls).

use std::collections::BTreeMap;

use openchat_protocol::Alphabet;
use serde::Serialize;

/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Problems found in an input, by field name. Serialized as a JSON object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    /// Records a problem with `field`.
    pub fn add(&mut self, field: &str, problem: impl Into<String>) {
        self.0.insert(field.to_owned(), problem.into());
    }

    /// Whether no problem was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problem recorded for `field`, if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    /// `Ok(())` when empty, else `Err(self)`.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

/// Whether `id` is a resource id ([`Alphabet::RESOURCE`]: `[A-Za-z0-9_-]{1,64}`).
pub fn is_valid_id(id: &str) -> bool {
    Alphabet::RESOURCE.accepts(id)
}

/// Checks an id field, recording a problem if it is malformed.
pub(crate) fn check_id(errors: &mut FieldErrors, field: &str, id: &str) {
    if !is_valid_id(id) {
        errors.add(
            field,
            format!("must match {}", Alphabet::RESOURCE.pattern()),
        );
    }
}

/// Checks a display name as sent (at most 100 characters, no control characters, not blank)
/// and returns it trimmed. The rules apply to the value as sent so that the OpenAPI schema
/// (`maxLength`, `pattern`) says exactly what is accepted.
pub(crate) fn check_name(errors: &mut FieldErrors, field: &str, name: &str) -> String {
    let trimmed = name.trim();
    if trimmed.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        errors.add(field, "must be 1-100 characters");
    } else if name.chars().any(char::is_control) {
        errors.add(field, "must not contain control characters");
    }
    trimmed.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(is_valid_id("srv_harbor"));
        assert!(is_valid_id("a-B_9"));
        assert!(is_valid_id(&"x".repeat(64)));
        assert!(!is_valid_id(&"x".repeat(65)));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id("é"));
        assert!(!is_valid_id("a/b"));
    }

    #[test]
    fn names() {
        let mut e = FieldErrors::default();
        assert_eq!(check_name(&mut e, "name", "  General "), "General");
        assert!(e.is_empty());
        check_name(&mut e, "name", &"é".repeat(100));
        assert!(e.is_empty());
        check_name(&mut e, "name", &"é".repeat(101));
        assert!(e.get("name").is_some());
        let mut e = FieldErrors::default();
        check_name(&mut e, "name", "   ");
        assert!(e.get("name").is_some());
        let mut e = FieldErrors::default();
        check_name(&mut e, "name", "a\nb");
        assert!(e.get("name").is_some());
        // As sent: surrounding whitespace counts towards the limit, control characters are
        // refused even where trimming would remove them.
        let mut e = FieldErrors::default();
        check_name(&mut e, "name", &format!("{} ", "x".repeat(100)));
        assert!(e.get("name").is_some());
        let mut e = FieldErrors::default();
        check_name(&mut e, "name", "General\n");
        assert!(e.get("name").is_some());
    }
}
