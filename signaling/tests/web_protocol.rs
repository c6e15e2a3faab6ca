//! The demo web client (`signaling/web/app.js`) speaks the protocol of the `openchat-protocol`
//! crate: every frame type it sends is a client frame, it handles every server frame type and
//! no other, and every error code it reacts to is one the server sends.

use std::collections::BTreeSet;

use openchat_protocol::{ClientMessage, ServerMessage};

fn app_js() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/web/app.js");
    std::fs::read_to_string(path).expect("app.js")
}

/// The quoted words after each `prefix` in `text` (`case "joined":` gives `joined`).
fn quoted_after(text: &str, prefix: &str) -> BTreeSet<String> {
    text.match_indices(prefix)
        .filter_map(|(at, _)| {
            let rest = &text[at + prefix.len()..];
            let end = rest.find('"')?;
            Some(rest[..end].to_string())
        })
        .collect()
}

/// The part of `text` from `start` to the first `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).expect("start marker");
    let rest = &text[from..];
    &rest[..rest.find(end).expect("end marker")]
}

#[test]
fn the_web_client_sends_only_client_frames() {
    let js = app_js();
    let sent = quoted_after(&js, "this.send({ type: \"");
    let known: BTreeSet<String> = ClientMessage::TYPES.iter().map(|t| t.to_string()).collect();
    assert!(!sent.is_empty());
    let unknown: Vec<_> = sent.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "app.js sends frames the protocol lacks: {unknown:?}"
    );
}

#[test]
fn the_web_client_handles_every_server_frame_and_no_other() {
    let js = app_js();
    let switch = between(&js, "switch (frame.type) {", "default:");
    let handled = quoted_after(switch, "case \"");
    let known: BTreeSet<String> = ServerMessage::TYPES.iter().map(|t| t.to_string()).collect();
    assert_eq!(
        handled, known,
        "app.js's frame switch against ServerMessage::TYPES"
    );
}

#[test]
fn error_codes_the_web_client_reacts_to_exist() {
    let js = app_js();
    let on_error = between(&js, "async onError(frame) {", "\n    }\n");
    let codes = quoted_after(on_error, "(code === \"");
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md"))
        .expect("protocol.md");
    assert!(codes.contains("negotiation_glare"), "{codes:?}");
    for code in &codes {
        assert!(
            docs.contains(&format!("| `{code}` |")),
            "app.js reacts to `{code}`, which docs/protocol.md's error table does not list"
        );
    }
}
