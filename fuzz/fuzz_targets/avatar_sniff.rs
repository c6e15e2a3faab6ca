//! Avatar upload type sniffing: only PNG, JPEG, GIF and WebP magic numbers are accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match control::fuzzing::sniff_image(data) {
        Some("image/png") => assert!(data.starts_with(b"\x89PNG\r\n\x1a\n")),
        Some("image/jpeg") => assert!(data.starts_with(&[0xFF, 0xD8, 0xFF])),
        Some("image/gif") => assert!(data.starts_with(b"GIF8")),
        Some("image/webp") => assert!(data.len() >= 12 && &data[8..12] == b"WEBP"),
        Some(other) => panic!("unexpected type {other}"),
        None => {}
    }
});
