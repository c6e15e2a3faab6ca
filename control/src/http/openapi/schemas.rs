//! Schema pieces the request types share, as strict as the checks behind them: id patterns,
//! display names, base64 payloads with their decoded size limits. Used with
//! `#[schema(pattern = ...)]` (the constants' values are repeated there: attributes take
//! literals) and `#[schema(schema_with = ...)]`.

use utoipa::openapi::Ref;
use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type,
};

/// Entity ids (servers, channels, messages, proposals, client message ids):
/// [`openchat_protocol::Alphabet::RESOURCE`], anchored (a test holds them equal).
pub const ID: &str = "^[A-Za-z0-9_-]{1,64}$";
/// User and device ids (token subjects): [`openchat_protocol::Alphabet::PRINCIPAL`], anchored.
pub const PRINCIPAL: &str = "^[A-Za-z0-9_.-]{1,64}$";
/// Free text without control characters (`char::is_control`: C0, DEL and C1).
pub const NO_CONTROL: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$";
/// Like [`NO_CONTROL`], with at least one character that is not whitespace.
pub const NOT_BLANK: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$";

/// Canonical standard base64 with padding, as the `base64` crate's `STANDARD` engine decodes it
/// (the unused bits of the last symbol must be zero).
const BASE64: &str =
    "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$";

/// A payload limited to `max_bytes` ([`crate::payload`]: the limit applies to the text, at most
/// `4 * ceil(max_bytes / 3)` characters), at least one byte when `non_empty`. Exact: every text
/// the schema accepts is accepted, every other one is refused (400, or 413 when it is too long).
pub fn base64(max_bytes: usize, non_empty: bool) -> Schema {
    let max_chars = crate::payload::max_chars(max_bytes);
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(BASE64))
        .min_length(Some(if non_empty { 4 } else { 0 }))
        .max_length(Some(max_chars))
        .content_encoding("base64")
        .description(Some(format!(
            "standard base64 with padding, at most {max_chars} characters \
             ({max_bytes} bytes rounded up to whole 3-byte groups)"
        )))
        .build()
        .into()
}

/// An opaque payload of at most 64 KiB, not empty (commits, welcomes, key envelopes).
pub fn base64_64k() -> Schema {
    base64(crate::keys::MAX_ENVELOPE_BYTES, true)
}

/// An opaque payload of at most 64 KiB, possibly empty (welcomes).
pub fn base64_64k_or_empty() -> Schema {
    base64(crate::keys::MAX_ENVELOPE_BYTES, false)
}

/// Devices added or removed by a commit: each once, at most 4096 (changes of one commit
/// together).
pub fn device_list() -> Schema {
    ArrayBuilder::new()
        .items(Ref::from_schema_name("DeviceRef"))
        .unique_items(true)
        .max_items(Some(4096))
        .build()
        .into()
}

/// Proposal ids carried out by a commit, each once.
pub fn proposal_ids() -> Schema {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(ID)),
        )
        .unique_items(true)
        .build()
        .into()
}

/// A key package: at most 16 KiB, not empty.
pub fn base64_16k() -> Schema {
    base64(crate::keys::MAX_PACKAGE_BYTES, true)
}

/// Up to 100 key packages.
pub fn package_list() -> Schema {
    ArrayBuilder::new()
        .items(utoipa::openapi::RefOr::T(base64_16k()))
        .max_items(Some(crate::keys::MAX_PACKAGES_PER_UPLOAD))
        .build()
        .into()
}

/// A key package, or `null`.
pub fn base64_16k_or_null() -> Schema {
    AnyOfBuilder::new()
        .item(base64_16k())
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .build()
        .into()
}

/// A key backup: at most the default `key_backup_max_bytes` (1 MiB), not empty. A server
/// configured with another limit answers 413 beyond its own.
pub fn base64_backup() -> Schema {
    base64(crate::ControlOptions::default().key_backup_max_bytes, true)
}

/// A role that can be given (`member` or `moderator`; `owner` never).
pub fn assignable_role() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["member", "moderator"]))
        .build()
        .into()
}

/// A role that may propose and vote (`moderator` or `owner`).
pub fn voter_role() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["moderator", "owner"]))
        .build()
        .into()
}

/// A moderation policy's `immediate` map: each action kind, at most once, to a role.
pub fn action_roles() -> Schema {
    let role = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["owner", "moderator", "member"]))
    };
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(
            utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
        ));
    for kind in crate::ActionKind::ALL {
        object = object.property(kind.as_str(), role());
    }
    object.build().into()
}

/// A moderation action in a request (`crate::ActionSpec`): one object per kind, with only the
/// fields that kind takes (`reason` always; `duration_secs` for `mute`, `timeout` and `ban`;
/// `message_id`, required, for `delete_message`). Written out: utoipa's internally tagged enums
/// do not close their objects.
pub fn action_spec() -> Schema {
    use crate::ActionKind;
    let reason: Schema = ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .pattern(Some(NOT_BLANK))
        .max_length(Some(500))
        .build()
        .into();
    let duration: Schema = ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
        .minimum(Some(1))
        .maximum(Some(31_536_000))
        .build()
        .into();
    let message_id: Schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(ID))
        .build()
        .into();
    let mut one_of = utoipa::openapi::schema::OneOfBuilder::new();
    for kind in ActionKind::ALL {
        let mut object = ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "kind",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([kind.as_str()])),
            )
            .required("kind")
            .property("reason", reason.clone())
            .additional_properties(Some(
                utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
            ));
        match kind {
            ActionKind::Mute | ActionKind::Timeout | ActionKind::Ban => {
                object = object.property("duration_secs", duration.clone());
            }
            ActionKind::DeleteMessage => {
                object = object
                    .property("message_id", message_id.clone())
                    .required("message_id");
            }
            _ => {}
        }
        one_of = one_of.item(object);
    }
    one_of.build().into()
}

/// Like [`assignable_role`], or `null` (the default, `member`).
pub fn assignable_role_or_null() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some([
            serde_json::Value::from("member"),
            serde_json::Value::from("moderator"),
            serde_json::Value::Null,
        ]))
        .build()
        .into()
}

#[cfg(test)]
mod tests {
    use openchat_protocol::Alphabet;

    #[test]
    fn id_patterns_are_the_protocol_alphabets() {
        assert_eq!(super::ID, Alphabet::RESOURCE.anchored_pattern());
        assert_eq!(super::PRINCIPAL, Alphabet::PRINCIPAL.anchored_pattern());
    }
}
