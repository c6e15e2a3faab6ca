//! The realtime WebSocket's client-frame decoder (`ping`, `typing {channel_id}`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(kind) = control::fuzzing::decode_client_frame(text) {
        assert!(kind == "ping" || kind == "typing");
    }
});
