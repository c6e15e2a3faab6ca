//! Live progress on stderr: one updating line on a terminal, plain lines otherwise.

use super::probe::LoadProbe;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Plain (non-terminal) output prints one line per this many ticks.
const PLAIN_EVERY: u32 = 5;

/// Counters the engine updates and the display reads.
#[derive(Clone)]
pub struct Progress {
    /// Joiners planned.
    pub planned: usize,
    /// Joiners started.
    pub started: Arc<AtomicU64>,
    /// Joiners that stopped with an error.
    pub failed: Arc<AtomicU64>,
    phase: Arc<Mutex<&'static str>>,
}

impl Progress {
    /// Fresh counters, phase "ramping".
    pub fn new(planned: usize) -> Self {
        Self {
            planned,
            started: Arc::default(),
            failed: Arc::default(),
            phase: Arc::new(Mutex::new("ramping")),
        }
    }

    /// Names the current phase.
    pub fn set_phase(&self, phase: &'static str) {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner) = phase;
    }

    fn phase(&self) -> &'static str {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One progress line.
pub fn line(
    elapsed: Duration,
    progress: &Progress,
    probe: &LoadProbe,
    rx_per_sec: f64,
    tx_per_sec: f64,
) -> String {
    format!(
        "[{:6.1}s] {:<10} started {}/{}, connected {}, failed {}, rx {:.0} pkt/s, tx {:.0} pkt/s",
        elapsed.as_secs_f64(),
        progress.phase(),
        progress.started.load(Ordering::Relaxed),
        progress.planned,
        probe.media_connected.load(Ordering::Relaxed),
        progress.failed.load(Ordering::Relaxed),
        rx_per_sec,
        tx_per_sec
    )
}

/// Prints progress every second until `stop` turns true.
pub fn spawn_progress(
    progress: Progress,
    probe: Arc<LoadProbe>,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let tty = std::io::stderr().is_terminal();
        let start = Instant::now();
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        let (mut last_rx, mut last_tx, mut last_t) = (0u64, 0u64, Instant::now());
        let mut ticks = 0u32;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.wait_for(|s| *s) => break,
            }
            ticks += 1;
            let now = Instant::now();
            let dt = now.duration_since(last_t).as_secs_f64().max(1e-3);
            let rx = probe.packets_received.load(Ordering::Relaxed);
            let tx = probe.packets_sent.load(Ordering::Relaxed);
            let text = line(
                start.elapsed(),
                &progress,
                &probe,
                (rx - last_rx) as f64 / dt,
                (tx - last_tx) as f64 / dt,
            );
            (last_rx, last_tx, last_t) = (rx, tx, now);
            let mut err = std::io::stderr().lock();
            if tty {
                let _ = write!(err, "\r\x1b[K{text}");
            } else if ticks % PLAIN_EVERY == 1 {
                let _ = writeln!(err, "{text}");
            }
            let _ = err.flush();
        }
        if tty {
            let _ = writeln!(std::io::stderr());
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_counts_and_rates() {
        let progress = Progress::new(500);
        progress.started.store(120, Ordering::Relaxed);
        progress.failed.store(2, Ordering::Relaxed);
        progress.set_phase("measuring");
        let probe = LoadProbe::default();
        probe.media_connected.store(117, Ordering::Relaxed);
        let text = line(Duration::from_secs(7), &progress, &probe, 5_850.4, 50.0);
        assert_eq!(
            text,
            "[   7.0s] measuring  started 120/500, connected 117, failed 2, rx 5850 pkt/s, tx 50 pkt/s"
        );
    }
}
