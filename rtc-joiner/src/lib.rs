//! `rtc-joiner`: joins OpenChat RTC rooms like a real client, streams test audio and video from
//! files, and records what it receives.
//!
//! **Room rule:** this crate is a *pure client of the documented public protocol*
//! (`docs/protocol.md`: HTTP join tickets and the signaling WebSocket, version 1).
//! It never links the `sfu`, `signaling` or `control` crates and relies on nothing
//! that is not written in that document.
//!
//! The crate is a library so that a load-test mode can run many [`Joiner`]s in one
//! process: every joiner owns all of its state (HTTP client, WebSocket, peer
//! connection, receivers) and there is no global state.
//!
//! Usage (one joiner; see `rtc-joiner --help`):
//!
//! ```text
//! rtc-joiner --backend-url http://127.0.0.1:8080 --channel-id vc_general --user bob --tone-hz 440
//! rtc-joiner --channel-id vc_general --user carol --file talk.mp3 --loop --duration 60
//! rtc-joiner --channel-id vc_general --token "$JWT" --write-received-dir rec/ --json
//! rtc-joiner --channel-id vc_video --user dan --video q.ivf --video h.ivf --video f.ivf \
//!     --screen screen.h264 --render-size 320x180 --write-received-dir rec/
//! ```
//!
//! Flow: `POST /v1/dev/token` (with `--user`) -> `POST /v1/rtc/channels/{id}/join-ticket`
//! -> WebSocket `join` -> `joined` -> one `offer` (non-trickle: every candidate is in the SDP)
//! -> `answer`; server `offer`s are answered, `ping` keeps the session alive, and `leave` ends it.
//! Flag errors exit with status 2; runtime errors print `error: <code>: <message>` and exit 1.
//! When the server goes away (restart or drain: a `going_away` frame or close code 1001) after
//! the join, the run ends cleanly: the summary is printed with stop reason `server_going_away`
//! and the status is 0. If it goes away before the join completed, the joiner prints
//! `error: server_going_away: ...` and exits with [`EXIT_SERVER_GOING_AWAY`] (75,
//! `EX_TEMPFAIL`): joining again later should work. When moderation or a revocation takes its
//! access away (`kicked`, `banned`, `timed_out`, `membership_revoked`, `device_revoked`, in the
//! room or at the join) it prints `error: <code>: ...` and exits with [`EXIT_ACCESS_REMOVED`]
//! (77, `EX_NOPERM`).
//!
//! Module map:
//! - [`cli`]: command-line flags and their validation into a [`JoinerConfig`].
//! - [`audio_source`]: PCM sources (decoded files, tones) and the resampler.
//! - [`opus_codec`]: 48 kHz mono Opus encoder/decoder wrappers.
//! - [`signaling_client`]: protocol message types, the HTTP API and the WebSocket session.
//! - [`peer`]: the webrtc-rs peer connection and the paced Opus sender.
//! - [`receiver`]: per-remote-track statistics (loss, jitter) and WAV recording.
//! - [`video`]: video from files (IVF, Annex-B H.264) with simulcast, and received video
//!   counted and written to files.
//! - [`summary`]: the end-of-run report (text or JSON).
//! - [`joiner`]: the [`Joiner`] that ties everything together.
//! - [`load`]: load mode (`rtc-joiner load`): many joiners, one measured run.
#![forbid(unsafe_code)]

pub mod audio_source;
pub mod cli;
mod error;
pub mod joiner;
pub mod load;
pub mod opus_codec;
pub mod peer;
pub mod receiver;
pub mod signaling_client;
pub mod summary;
pub mod video;

pub use audio_source::dominant_frequency;
pub use cli::{Cli, JoinerConfig};
pub use error::JoinerError;
pub use joiner::Joiner;
pub use summary::Summary;

/// Exit status of `rtc-joiner` when the server went away (stopped or drained) before the join
/// completed: 75, `EX_TEMPFAIL` of sysexits.h ("temporary failure, retry"). After the join a
/// going-away server ends the run cleanly (status 0, stop reason `server_going_away`).
pub const EXIT_SERVER_GOING_AWAY: u8 = 75;

/// Exit status of `rtc-joiner` when the server took its access away (`kicked`, `banned`,
/// `timed_out`, `membership_revoked`, `device_revoked`), whether at the join (a refused ticket)
/// or in the room: 77, `EX_NOPERM` of sysexits.h. Joining again will not work until the
/// restriction ends or is lifted.
pub const EXIT_ACCESS_REMOVED: u8 = 77;

/// The error codes that exit with [`EXIT_ACCESS_REMOVED`].
pub const ACCESS_REMOVED_CODES: [&str; 5] = [
    "kicked",
    "banned",
    "timed_out",
    "membership_revoked",
    "device_revoked",
];
