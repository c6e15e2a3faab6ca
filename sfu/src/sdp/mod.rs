//! SDP as the sfu handles it beside str0m: the media-policy filter of client offers, fix-ups of
//! str0m's answers, and the size limits that follow from the room caps.

pub mod answer;
pub mod filter;
pub mod limits;
pub mod text;
