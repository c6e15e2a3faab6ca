//! Result rows, and the CSV and markdown files under `bench/results/`.

use std::fmt::Write as _;
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::Args;
use crate::fixture::Fixture;
use crate::subscribers::Shared;

/// One run's figures.
#[derive(Clone, Debug)]
pub struct Row {
    pub db: String,
    pub run: &'static str,
    pub subscribers: usize,
    pub envelopes: usize,
    pub senders: usize,
    pub payload_bytes: usize,
    /// Envelopes accepted (2xx) per second, first POST to last 2xx.
    pub accepted_per_s: f64,
    /// Frames delivered to subscribers per second, first POST to last delivery.
    pub deliveries_per_s: f64,
    pub delivery_p50_ms: f64,
    pub delivery_p99_ms: f64,
    pub delivery_max_ms: f64,
    /// Time until the last subscriber read an envelope.
    pub complete_p50_ms: f64,
    pub complete_p99_ms: f64,
    pub accept_p50_ms: f64,
    pub accept_p99_ms: f64,
    pub missing: u64,
    pub resyncs: u64,
}

/// The `q` quantile of `values` (sorted in place); 0 when empty.
pub fn percentile(values: &mut [u64], q: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let at = ((values.len() as f64) * q).floor() as usize;
    values[at.min(values.len() - 1)]
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl Row {
    #[allow(clippy::too_many_arguments)]
    pub fn from_run(
        fixture: &Fixture,
        args: &Args,
        run: &'static str,
        senders: usize,
        shared: &Shared,
        range: Range<usize>,
        deliveries: &[(u32, u32)],
        mut accepts: Vec<u64>,
        accepted_in: Duration,
    ) -> Row {
        let mut latencies: Vec<u64> = deliveries
            .iter()
            .filter(|(i, _)| range.contains(&(*i as usize)))
            .map(|(_, us)| u64::from(*us))
            .collect();
        let first_sent = range
            .clone()
            .map(|i| shared.sent_at[i].load(Ordering::Acquire))
            .min()
            .unwrap_or(0);
        let last_done = range
            .clone()
            .map(|i| shared.completed_at[i].load(Ordering::Acquire))
            .max()
            .unwrap_or(0);
        let mut complete: Vec<u64> = range
            .clone()
            .filter_map(|i| {
                let done = shared.completed_at[i].load(Ordering::Acquire);
                let sent = shared.sent_at[i].load(Ordering::Acquire);
                (done > 0).then(|| done.saturating_sub(sent) / 1000)
            })
            .collect();
        let expected = (range.len() as u64) * (fixture.subscribers as u64);
        let delivered = latencies.len() as u64;
        let span = Duration::from_nanos(last_done.saturating_sub(first_sent)).as_secs_f64();
        Row {
            db: fixture.label.clone(),
            run,
            subscribers: fixture.subscribers,
            envelopes: range.len(),
            senders,
            payload_bytes: args.payload_bytes,
            accepted_per_s: range.len() as f64 / accepted_in.as_secs_f64().max(1e-9),
            deliveries_per_s: delivered as f64 / span.max(1e-9),
            delivery_p50_ms: ms(percentile(&mut latencies, 0.50)),
            delivery_p99_ms: ms(percentile(&mut latencies, 0.99)),
            delivery_max_ms: ms(percentile(&mut latencies, 1.0)),
            complete_p50_ms: ms(percentile(&mut complete, 0.50)),
            complete_p99_ms: ms(percentile(&mut complete, 0.99)),
            accept_p50_ms: ms(percentile(&mut accepts, 0.50)),
            accept_p99_ms: ms(percentile(&mut accepts, 0.99)),
            missing: expected.saturating_sub(delivered),
            resyncs: shared.resyncs.load(Ordering::Relaxed),
        }
    }

    /// One line for the console.
    pub fn summary(&self) -> String {
        format!(
            "{} {}: {:.0} envelopes/s accepted, {:.0} deliveries/s, delivery p50 {:.1} ms p99 \
             {:.1} ms, missing {}, resyncs {}",
            self.db,
            self.run,
            self.accepted_per_s,
            self.deliveries_per_s,
            self.delivery_p50_ms,
            self.delivery_p99_ms,
            self.missing,
            self.resyncs
        )
    }
}

const HEADER: &str = "db,run,subscribers,envelopes,senders,payload_bytes,accepted_per_s,\
deliveries_per_s,delivery_p50_ms,delivery_p99_ms,delivery_max_ms,complete_p50_ms,complete_p99_ms,\
accept_p50_ms,accept_p99_ms,missing,resyncs";

/// Writes `control-fanout.csv` and `control-fanout.md` into `args.out`.
pub fn write(args: &Args, rows: &[Row]) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)?;
    let mut csv = format!("{HEADER}\n");
    for r in rows {
        writeln!(
            csv,
            "{},{},{},{},{},{},{:.1},{:.1},{:.2},{:.2},{:.2},{:.2},{:.2},{:.2},{:.2},{},{}",
            r.db,
            r.run,
            r.subscribers,
            r.envelopes,
            r.senders,
            r.payload_bytes,
            r.accepted_per_s,
            r.deliveries_per_s,
            r.delivery_p50_ms,
            r.delivery_p99_ms,
            r.delivery_max_ms,
            r.complete_p50_ms,
            r.complete_p99_ms,
            r.accept_p50_ms,
            r.accept_p99_ms,
            r.missing,
            r.resyncs
        )?;
    }
    std::fs::write(args.out.join("control-fanout.csv"), csv)?;

    let mut md = String::from("# control-fanout: chat envelopes to realtime subscribers\n\n");
    writeln!(
        md,
        "Machine: {}. One process runs control (router over 127.0.0.1 TCP), the sender and \
         every WebSocket subscriber, so the clients' CPU competes with the server's. One sender \
         device, one channel (sends to a channel are serialized by its row lock). Ciphertext {} \
         bytes. Latency: sender starts the POST -> subscriber has read the `message_created` \
         frame; \"complete\": until the last subscriber has read it. Produced by \
         `cargo run --release -p control-fanout`.\n",
        args.machine, args.payload_bytes
    )?;
    md.push_str(
        "| db | run | subscribers | envelopes | senders | accepted env/s | deliveries/s | \
         delivery p50 ms | delivery p99 ms | complete p50 ms | complete p99 ms | accept p50 ms | \
         accept p99 ms | missing | resyncs |\n",
    );
    md.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        writeln!(
            md,
            "| {} | {} | {} | {} | {} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | \
             {:.1} | {} | {} |",
            r.db,
            r.run,
            r.subscribers,
            r.envelopes,
            r.senders,
            r.accepted_per_s,
            r.deliveries_per_s,
            r.delivery_p50_ms,
            r.delivery_p99_ms,
            r.complete_p50_ms,
            r.complete_p99_ms,
            r.accept_p50_ms,
            r.accept_p99_ms,
            r.missing,
            r.resyncs
        )?;
    }
    std::fs::write(args.out.join("control-fanout.md"), md)?;
    eprintln!(
        "wrote {}",
        args.out.join("control-fanout.{csv,md}").display()
    );
    Ok(())
}
