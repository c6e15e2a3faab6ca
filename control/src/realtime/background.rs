//! This process's realtime background tasks, owned and joined: the dispatcher, on PostgreSQL the
//! `LISTEN` task, and the notifier that sends `NOTIFY` after local commits (one task, so a burst
//! of commits costs one `NOTIFY` in flight plus one queued, and none is detached).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sqlx::AnyPool;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::dispatcher::{dispatch, listen};
use super::hub::Hub;
use crate::Control;
use crate::db::Backend;

/// How long [`Control::stop_background`] waits for the tasks before aborting them.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// What [`Control::stop_background`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackgroundStopped {
    /// Tasks that ended by themselves and were joined.
    pub joined: usize,
    /// Tasks that did not end within 5 s and were aborted.
    pub aborted: usize,
}

/// The tasks' handles and the signals they obey.
pub(crate) struct Background {
    started: AtomicBool,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Set after a local commit appended events; the notifier turns it into one `NOTIFY`.
    notify_peers: Arc<Notify>,
}

impl Default for Background {
    fn default() -> Self {
        Background {
            started: AtomicBool::new(false),
            stop: watch::channel(false).0,
            tasks: Mutex::new(Vec::new()),
            notify_peers: Arc::default(),
        }
    }
}

impl Background {
    /// Whether the tasks were started.
    pub(crate) fn started(&self) -> bool {
        self.started.load(Ordering::Acquire)
    }

    /// A receiver that turns `true` when the process stops its background tasks.
    pub(crate) fn stopping(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Resolves once `stopping` turns `true` (or its sender is gone).
pub(crate) async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}

impl Control {
    /// Starts this process's realtime tasks if they are not running yet: the dispatcher and, on
    /// PostgreSQL, the `LISTEN` task and the `NOTIFY` sender. Sessions and commits start them on
    /// their own; calling this at start-up only makes the first session's events flow without
    /// the start-up delay. Idempotent. [`Control::stop_background`] ends and joins them.
    pub fn start_background(&self) {
        let background = &self.hub.background;
        if background.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let hub = Arc::downgrade(&self.hub);
        let mut tasks = background.tasks();
        if self.backend == Backend::Postgres {
            let url = self.pool().connect_options().database_url.to_string();
            tasks.push(tokio::spawn(listen(
                hub.clone(),
                self.pool().clone(),
                url,
                background.stopping(),
            )));
            tasks.push(tokio::spawn(notifier(
                hub.clone(),
                background.notify_peers.clone(),
                self.pool().clone(),
                background.stopping(),
            )));
        }
        tasks.push(tokio::spawn(dispatch(
            hub,
            self.pool().clone(),
            background.stopping(),
        )));
    }

    /// Stops the realtime tasks and waits for them (at most 5 s, then aborts what is left). A
    /// `NOTIFY` owed for a commit is sent before the notifier ends. Call it when the process
    /// stops, after its sessions closed. Idempotent.
    pub async fn stop_background(&self) -> BackgroundStopped {
        let background = &self.hub.background;
        background.stop.send_replace(true);
        let tasks: Vec<JoinHandle<()>> = background.tasks().drain(..).collect();
        let mut stopped = BackgroundStopped::default();
        for mut task in tasks {
            if tokio::time::timeout(STOP_WAIT, &mut task).await.is_ok() {
                stopped.joined += 1;
            } else {
                tracing::warn!("a realtime background task did not stop in time; aborting it");
                task.abort();
                stopped.aborted += 1;
            }
        }
        stopped
    }

    /// After a commit that appended events: wakes this process's dispatcher and, on
    /// PostgreSQL, has the notifier send `NOTIFY` to the other processes (outside any lock). A
    /// lost notification costs at most one dispatcher poll interval.
    pub(crate) fn outbox_committed(&self) {
        self.hub.wake();
        if self.backend == Backend::Postgres {
            self.start_background();
            self.hub.background.notify_peers.notify_one();
        }
    }
}

/// Sends `NOTIFY` once per wake-up; sends what is owed, then ends, when the process stops (or
/// when every `Control` of this process is gone).
async fn notifier(
    hub: Weak<Hub>,
    wake: Arc<Notify>,
    pool: AnyPool,
    mut stopping: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = wake.notified() => send_notify(&pool).await,
            () = stopped(&mut stopping) => {
                // A commit may have raced the stop: its permit is still stored.
                if tokio::time::timeout(Duration::ZERO, wake.notified()).await.is_ok() {
                    send_notify(&pool).await;
                }
                return;
            }
            () = tokio::time::sleep(IDLE_CHECK) => {
                if hub.strong_count() == 0 {
                    return;
                }
            }
        }
    }
}

/// How often an idle notifier checks that its process still uses it.
const IDLE_CHECK: Duration = Duration::from_secs(2);

async fn send_notify(pool: &AnyPool) {
    // The channel is `NOTIFY_CHANNEL`.
    if let Err(e) = sqlx::raw_sql("NOTIFY openchat_outbox").execute(pool).await {
        tracing::debug!(error = %e, "outbox NOTIFY failed; peers will poll");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_notify_statement_names_the_listened_channel() {
        assert_eq!(
            super::super::super::outbox::NOTIFY_CHANNEL,
            "openchat_outbox"
        );
    }
}
