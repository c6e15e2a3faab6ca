//! Realtime fanout: `GET /v1/realtime` sessions fed by the transactional outbox.
//!
//! Every state change writes its event to the `outbox` table in its own transaction (see
//! `outbox.rs`). Each process runs one dispatcher task that tails the outbox in id order (woken
//! by local commits, by PostgreSQL `NOTIFY` from other processes, and by a short poll as a
//! fallback), resolves each event's audience (member devices of a channel at an epoch, one
//! device, a user's peers) and hands it to the local sessions of those devices. A session that
//! resumes with `last_event_id` first replays the outbox after that id, then continues live,
//! skipping ids it already sent: nothing is lost or duplicated, and order is the outbox order.
//!
//! The dispatcher starts lazily with the first session or commit (or with
//! [`Control::start_background`]); its tasks are owned by the process's `Control` and end, joined,
//! with [`Control::stop_background`].
//! A session whose queue overflows gets a `resync` frame and is closed; it reconnects with its
//! last event id.
//!
//! [`Control::start_background`]: crate::Control::start_background
//! [`Control::stop_background`]: crate::Control::stop_background

mod access;
mod audience;
mod background;
pub use background::BackgroundStopped;
mod dispatcher;
mod ephemeral;
mod event;
mod hub;
mod session;

pub use access::AccessChange;
pub use event::Event;
pub(crate) use hub::Hub;
#[cfg(feature = "fuzzing")]
pub use session::decode_client_frame;
pub use session::{ClientInput, run_session};

/// Events a session may queue before it is considered lagging (and closed with `resync`).
pub const SESSION_QUEUE: usize = 4096;
