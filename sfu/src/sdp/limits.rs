//! How large a client's SDP can get, derived from the room's caps.
//!
//! A participant receives every remote track on an m= section of its own session, and publishes
//! at most one track per source (a second one is rejected with `duplicate_source`). The server
//! recycles the section of an ended track for the next one (RFC 8829 section 5.2.2) and never
//! grows a session past [`RoomPolicy::max_sections`]: with at most `P` participants each
//! publishing at most `S` sources (1 in a voice room, 4 in a video room), a client's session
//! holds at most `(P - 1) * S` sections the server created, `S` it publishes on, and
//! [`SPARE_SECTIONS`] of its own (a `recvonly` line, a rejected video line). A client's SDP
//! (its offers and its answers to the server) is therefore at most
//! `SESSION_BYTES + SECTION_BYTES * (P * S + SPARE_SECTIONS)` bytes, and the server accepts any
//! SDP up to that size ([`RoomPolicy::max_sdp_bytes`]).
//!
//! [`SECTION_BYTES`] is a generous bound on one section as clients write them: measured here, a
//! receive-only Opus section is about 0.4-0.6 KiB from browsers and webrtc-rs, and about 1 KiB
//! from aiortc, which repeats its candidates and fingerprint in every section.
//!
//! [`RoomPolicy::max_sections`]: crate::RoomPolicy::max_sections
//! [`RoomPolicy::max_sdp_bytes`]: crate::RoomPolicy::max_sdp_bytes

/// Bytes budgeted for one m= section of a client's SDP.
pub const SECTION_BYTES: usize = 2048;
/// Bytes budgeted for the session part (before the first `m=` line) of a client's SDP.
pub const SESSION_BYTES: usize = 2048;
/// Sections a client may hold beyond those it publishes on and those the server created.
pub const SPARE_SECTIONS: usize = 4;
