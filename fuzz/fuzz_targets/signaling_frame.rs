//! The signaling WebSocket's text-frame decoder (`ClientMessage::parse`): every frame a client
//! sends before and after `join`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signaling::ws::protocol::{ClientMessage, MAX_FRAME_BYTES};

fuzz_target!(|data: &[u8]| {
    // WebSocket text frames are UTF-8 by the time the session sees them.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match ClientMessage::parse(text) {
        Ok(message) => {
            assert!(text.len() <= MAX_FRAME_BYTES);
            match message {
                ClientMessage::Offer { sdp, tracks } => {
                    assert!(!sdp.is_empty());
                    assert!(tracks.len() <= 16);
                    assert!(tracks.iter().all(|t| (1..=32).contains(&t.mid.len())));
                }
                ClientMessage::Answer { sdp } => assert!(!sdp.is_empty()),
                ClientMessage::Candidate { candidate, .. } => assert!(candidate.len() <= 1024),
                _ => {}
            }
        }
        // The error goes back to the client in an `error` frame: it must stay short.
        Err(message) => assert!(message.chars().count() <= 200, "{} chars", message.len()),
    }
});
