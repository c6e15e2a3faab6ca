//! How large a client's SDP can get, derived from the room's caps.
//!
//! A participant receives every remote track on an m= section of its own session, and publishes
//! at most one track per source (a second one is rejected with `duplicate_source`). The server
//! recycles the section of an ended track for the next one (RFC 8829 section 5.2.2) and never
//! grows a session past [`RoomPolicy::max_sections`]: with at most `P` participants each
//! publishing at most one track per source of the room kind (a voice room: microphone; a video
//! room: microphone, camera, screenshare, screenshare audio), a client's session holds at most
//! `P` sections per source (everyone's tracks, its own included) and [`SPARE_SECTIONS`] of its
//! own (a `recvonly` line, a video line offered into a voice room and rejected). A client's SDP,
//! offer or answer, is therefore at most
//! `SESSION_BYTES + P * (sum of the section bytes of the sources) + SPARE_SECTIONS * VIDEO_SECTION_BYTES`
//! ([`RoomPolicy::max_sdp_bytes`]), and the server accepts any SDP up to that size.
//!
//! The section sizes are generous bounds on what clients write: measured here, an Opus section
//! is 0.4-0.6 KiB from browsers and webrtc-rs and about 1 KiB from aiortc (which repeats its
//! candidates and fingerprint in every section); a video section offering every codec a browser
//! or str0m knows (VP8, VP9 and H264 profiles, each with RTX) is about 4-6 KiB.
//!
//! [`RoomPolicy::max_sections`]: crate::RoomPolicy::max_sections
//! [`RoomPolicy::max_sdp_bytes`]: crate::RoomPolicy::max_sdp_bytes

/// Bytes budgeted for one audio m= section of a client's SDP.
pub const AUDIO_SECTION_BYTES: usize = 2048;
/// Bytes budgeted for one video m= section of a client's SDP.
pub const VIDEO_SECTION_BYTES: usize = 8192;
/// Bytes budgeted for the session part (before the first `m=` line) of a client's SDP.
pub const SESSION_BYTES: usize = 2048;
/// Sections a client may hold beyond one per source and participant (budgeted as video).
pub const SPARE_SECTIONS: usize = 4;
