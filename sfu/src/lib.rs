//! OpenChat media plane.
//!
//! Room rule: the sfu owns UDP sockets, str0m [`Rtc`](str0m::Rtc) peers, the forwarding graph and
//! packet-level media-policy enforcement. It never touches HTTP, the database, JWTs or the transport of
//! SDP: it obeys typed commands ([`PeerHandle`] methods) and emits typed events ([`PeerEvent`]).
//!
//! Layout, by folder:
//! - `engine/`: the media engine, sans-IO in str0m's shape (`handle_input` / `poll_output`, time
//!   only as an input): peers, rooms, negotiation, forwarding. No socket, clock or thread inside.
//! - `rooms/`: the rooms layer above forwarding, on its own thread: roster, mute, speaker
//!   updates, room limits, and the room commands (server mute, kick, grants) callers outside the
//!   sfu issue through [`Sfu`].
//! - `runtime/`: one thread per worker that owns the UDP socket, the clock, the command channel and
//!   the batched sends (`sendmmsg`), and drives one engine.
//! - [`Sfu`] (`sfu.rs`): starts the workers, places rooms on them and hands out [`PeerHandle`]s.
//! - `config.rs`: [`MediaSettings`], the `[media]` config section openchatd embeds, and
//!   [`SfuConfig`]; `metrics.rs`: the counters as a Prometheus [`StatsCollector`].
//! - Video, as pure logic beside the engine files that apply it: `codecs.rs` (payload types
//!   across sessions), `keyframes.rs` (keyframe request rate limit), `simulcast.rs` (layers and
//!   each subscriber's layer choice), `allocation.rs` (a subscriber's bandwidth shared out over
//!   its tracks), `picture_ids.rs` (VP8/VP9 ids across switches and drops), `temporal.rs` (VP8
//!   and VP9 temporal layers a subscriber short of bandwidth does without), `vp9.rs` (the VP9
//!   payload descriptor), `video_policy.rs` (what video
//!   rooms allow); in `engine/`: `keyframes.rs`, `layers.rs`, `allocate.rs`, `dynacast.rs`,
//!   `bitrate_caps.rs`.
//!
//! Threading: each worker thread owns one UDP socket and every peer of the rooms placed on it, so the
//! per-packet path takes no locks. A packet is decrypted once and its payload is shared by reference
//! (`Arc<[u8]>`) with every subscriber; each subscriber gets its own header rewrite and SRTP encryption.
#![forbid(unsafe_code)]

mod allocation;
mod codecs;
mod config;
mod dtls_failure;
pub mod engine;
mod error;
mod events;
mod ids;
mod keyframes;
pub mod latency;
mod metrics;
mod peer;
mod picture_ids;
mod policy;
mod rewrite;
mod room;
pub mod rooms;
mod runtime;
mod sdp;
mod sections;
mod sfu;
mod simulcast;
mod speaking;
mod stats;
mod stun;
mod temporal;
mod video_policy;
mod vp9;

pub use config::{InvalidSetting, MediaSettings, SfuConfig};
pub use dtls_failure::{DtlsFailure, DtlsFailureReason};
pub use error::{ErrorCode, SfuError};
pub use events::{LeaveReason, ParticipantSnapshot, PeerEvent, TrackSnapshot};
pub use ids::{ParticipantInfo, PeerId, RoomId};
pub use latency::{BUCKET_BOUNDS_US, LatencySnapshot};
pub use metrics::StatsCollector;
pub use policy::{Grants, MediaKind, RoomKind, RoomPolicy, Source, TrackDeclaration};
pub use rooms::Target;
pub use sdp::limits::{AUDIO_SECTION_BYTES, SESSION_BYTES, SPARE_SECTIONS, VIDEO_SECTION_BYTES};
pub use sfu::{JoinRequest, PeerHandle, Sfu};
pub use simulcast::TrackView;
pub use stats::{SfuStats, StatsSnapshot, WorkerStats};
pub use video_policy::{VideoCodec, VideoPolicy};

/// In-memory room for the hot-path benchmark in `bench/` (feature `bench-support`; not for
/// production use).
#[cfg(feature = "bench-support")]
pub mod bench_support {
    pub use crate::engine::{BenchRoom, Datagram};
}

/// Entry points of the fuzz targets in `fuzz/` (feature `fuzzing`; not for production use): the
/// SDP filter, the STUN ufrag reader of the datagram router, and the in-memory room whose
/// newcomers offer or answer SDP and whose connected peers are fed datagrams the way the runtime
/// feeds the engine.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    pub use crate::engine::{Arrival, BenchRoom, ListenerExchange};
    pub use crate::sdp::filter::{FilteredOffer, LineVerdict, OfferRules, filter_offer};
    pub use crate::stun::local_ufrag;
}
