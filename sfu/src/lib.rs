//! OpenChat media plane.
//!
//! Room rule: the sfu owns UDP sockets, str0m [`Rtc`](str0m::Rtc) peers, the forwarding graph and
//! packet-level media-policy enforcement. It never touches HTTP, the database, JWTs or the transport of
//! SDP: it obeys typed commands ([`PeerHandle`] methods) and emits typed events ([`PeerEvent`]).
//!
//! Threading: each worker thread owns one UDP socket and every peer of the rooms placed on it, so the
//! per-packet path takes no locks. A packet is decrypted once and its payload is shared by reference
//! (`Arc<[u8]>`) with every subscriber; each subscriber gets its own header rewrite and SRTP encryption.
#![forbid(unsafe_code)]

mod config;
mod dtls_failure;
mod error;
mod events;
mod ids;
pub mod latency;
mod peer;
mod policy;
mod rewrite;
mod room;
mod sdp;
mod sections;
mod sfu;
mod speaking;
mod stats;
mod stun;
mod worker;

pub use config::SfuConfig;
pub use dtls_failure::{DtlsFailure, DtlsFailureReason};
pub use error::{ErrorCode, SfuError};
pub use events::{LeaveReason, ParticipantSnapshot, PeerEvent, TrackSnapshot};
pub use ids::{ParticipantInfo, PeerId, RoomId};
pub use latency::{BUCKET_BOUNDS_US, LatencySnapshot};
pub use policy::{Grants, MediaKind, RoomKind, RoomPolicy, Source, TrackDeclaration};
pub use sdp::limits::{AUDIO_SECTION_BYTES, SESSION_BYTES, SPARE_SECTIONS, VIDEO_SECTION_BYTES};
pub use sfu::{JoinRequest, PeerHandle, Sfu};
pub use stats::{SfuStats, StatsSnapshot};

/// In-memory room for the hot-path benchmark in `bench/` (feature `bench-support`; not for
/// production use).
#[cfg(feature = "bench-support")]
pub mod bench_support {
    pub use crate::worker::{BenchRoom, Datagram};
}

/// Entry points of the fuzz targets in `fuzz/` (feature `fuzzing`; not for production use): the
/// SDP filter, the STUN ufrag reader of the datagram router, and the in-memory room whose
/// newcomers offer or answer SDP and whose connected peers are fed datagrams the way the worker's
/// event loop does.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    pub use crate::sdp_filter::{FilteredOffer, LineVerdict, OfferRules, filter_offer};
    pub use crate::stun::local_ufrag;
    pub use crate::worker::{Arrival, BenchRoom, ListenerExchange};
}
