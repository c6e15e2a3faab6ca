//! Load mode (`rtc-joiner load`): many joiners in one process, measured.
//!
//! The [`engine`] ramps joiners into rooms at `--ramp` per second, waits until they are
//! connected, settles, then measures a window: server CPU time and RSS from `/proc/<pid>`,
//! the server's forwarded-packet counter from `/metrics`, this process's own CPU, and every
//! received packet matched with its send ([`probe`]) for end-to-end latency. Then it stops the
//! joiners and prints a [`LoadSummary`] (text, or JSON with `--json`).
//!
//! Load-mode joiners keep receive statistics only (no Opus decoding, no WAV). Two client
//! stacks (`--engine`): [`light`] (str0m, the default) multiplexes every peer on a few hub
//! threads and encodes the published Opus once per run, so one process holds a thousand
//! joiners; `webrtc-rs` runs one full webrtc-rs peer connection per joiner (the stack of
//! `rtc-joiner` itself), heavier but a second implementation for interoperability. The engine
//! is generic over [`LoadClient`]: the bench crate drives another SFU (Janus) with the same
//! engine through its own client.
//!
//! ```text
//! rtc-joiner load --joiners 1000 --publishers 1 --ramp 50 --duration 20 --server-pid $(pidof openchatd)
//! rtc-joiner load --engine webrtc-rs --joiners 100 --duration 20
//! rtc-joiner load --joiners 250 --publishers 50 --rooms 50 --json
//! ```

pub mod cli;
pub mod engine;
pub mod light;
pub mod openchat;
pub mod percentile;
pub mod probe;
pub mod procfs;
pub mod progress;
pub mod server_metrics;
pub mod setup;
pub mod summary;
pub mod video_summary;

pub use cli::LoadCli;
pub use engine::{JoinFuture, LoadClient, LoadPlan, Slot, run_load};
pub use probe::{JoinProbe, LoadProbe, RecvProbe, SendProbe};
pub use summary::LoadSummary;
