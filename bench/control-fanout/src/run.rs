//! The two runs (paced, saturation) against one prepared database.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;

use crate::Args;
use crate::fixture::{CHANNEL, Fixture, SENDER};
use crate::report::Row;
use crate::subscribers::{Deliveries, Shared, connect_all};

/// Posts envelope `i`; returns its accept latency in microseconds.
async fn post(
    client: &reqwest::Client,
    url: &str,
    shared: &Shared,
    i: usize,
    ciphertext: &str,
) -> anyhow::Result<u64> {
    let body = json!({"client_message_id": format!("b{i}"), "epoch": 1, "ciphertext": ciphertext});
    let started = shared.now_nanos();
    shared.sent_at[i].store(started.max(1), Ordering::Release);
    let response = client.post(url).json(&body).send().await?;
    if response.status().as_u16() != 201 {
        bail!("envelope {i}: HTTP {}", response.status());
    }
    Ok((shared.now_nanos() - started) / 1000)
}

/// Waits until every subscriber read envelopes `range` (or `limit` passes).
async fn wait_delivered(shared: &Shared, range: std::ops::Range<usize>, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let done = range
            .clone()
            .all(|i| shared.delivered[i].load(Ordering::Acquire) >= shared.subscribers);
        if done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("   (deliveries still missing after {limit:?})");
}

/// Waits until no frame arrived for a second (the connect-time presence storm is over).
async fn wait_quiet(shared: &Shared) {
    let mut last = u64::MAX;
    for _ in 0..240 {
        let now = shared.frames.load(Ordering::Relaxed);
        if now == last {
            return;
        }
        last = now;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Connects the subscribers, runs the paced and saturation runs, returns their rows.
pub async fn measure(fixture: &Fixture, args: &Args) -> anyhow::Result<Vec<Row>> {
    let paced = usize::try_from(args.paced_rate * args.paced_secs)?;
    let total = paced + args.envelopes;
    let shared = Shared::new(total, fixture.subscribers);
    let connect_started = Instant::now();
    let subscribers = connect_all(fixture, &shared).await?;
    eprintln!(
        "   {} subscribers connected in {:.1?}; waiting for quiet",
        subscribers.len(),
        connect_started.elapsed()
    );
    wait_quiet(&shared).await;
    let ciphertext = "A".repeat(args.payload_bytes.div_ceil(3) * 4);
    let url = format!(
        "http://{}/v1/channels/{CHANNEL}/messages?user={SENDER}&device=d0",
        fixture.addr
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;

    // Paced: one envelope every 1/rate seconds, each POST on its own task.
    eprintln!("   paced run: {paced} envelopes at {}/s", args.paced_rate);
    let started = Instant::now();
    let mut interval = tokio::time::interval(Duration::from_secs(1) / args.paced_rate.max(1));
    let mut posts = Vec::with_capacity(paced);
    for i in 0..paced {
        interval.tick().await;
        let (client, url, shared, ciphertext) = (
            client.clone(),
            url.clone(),
            shared.clone(),
            ciphertext.clone(),
        );
        posts.push(tokio::spawn(async move {
            post(&client, &url, &shared, i, &ciphertext).await
        }));
    }
    let mut accept_paced = Vec::with_capacity(paced);
    for p in posts {
        accept_paced.push(p.await??);
    }
    let accepted_paced = started.elapsed();
    wait_delivered(&shared, 0..paced, Duration::from_secs(60)).await;

    // Saturation: K senders back to back.
    eprintln!(
        "   saturation run: {} envelopes, {} senders",
        args.envelopes, args.senders
    );
    let next = Arc::new(AtomicUsize::new(paced));
    let started = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..args.senders {
        let (client, url, shared, ciphertext, next) = (
            client.clone(),
            url.clone(),
            shared.clone(),
            ciphertext.clone(),
            next.clone(),
        );
        senders.push(tokio::spawn(async move {
            let mut accepts = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return anyhow::Ok(accepts);
                }
                accepts.push(post(&client, &url, &shared, i, &ciphertext).await?);
            }
        }));
    }
    let mut accept_sat = Vec::with_capacity(args.envelopes);
    for s in senders {
        accept_sat.extend(s.await??);
    }
    let accepted_sat = started.elapsed();
    wait_delivered(&shared, paced..total, Duration::from_secs(120)).await;

    let _ = shared.stop.send(true);
    let mut deliveries: Deliveries = Vec::new();
    for s in subscribers {
        deliveries.extend(s.await.context("subscriber task")?);
    }
    let row = |run, range: std::ops::Range<usize>, senders, accepts: Vec<u64>, accepted| {
        Row::from_run(
            fixture,
            args,
            run,
            senders,
            &shared,
            range,
            &deliveries,
            accepts,
            accepted,
        )
    };
    let rows = vec![
        row("paced", 0..paced, 1, accept_paced, accepted_paced),
        row(
            "saturation",
            paced..total,
            args.senders,
            accept_sat,
            accepted_sat,
        ),
    ];
    for r in &rows {
        eprintln!("   {}", r.summary());
    }
    Ok(rows)
}
