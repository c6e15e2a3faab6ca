//! Criterion benchmark of the forwarding hot path, in memory (no sockets, fake clock):
//! one publisher packet through a real sfu worker (SRTP decrypt once, then per subscriber
//! rewrite + SRTP encrypt + queue) for rooms of 1..500 subscribers.
//!
//! Besides criterion's report (`target/criterion/`), it writes `bench/results/hotpath.csv`:
//! ns per packet, ns per packet per subscriber, and heap allocations per packet counted by the
//! counting global allocator below.
//!
//! Run: `cargo bench -p bench --bench forward`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use sfu::bench_support::BenchRoom;
use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Counts allocations (alloc, alloc_zeroed, realloc) and forwards everything to the system
/// allocator. The only `unsafe` in the bench crate: `GlobalAlloc` is an unsafe trait.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method delegates to `System` with the caller's arguments unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SIZES: [usize; 4] = [1, 10, 100, 500];

fn room(subscribers: usize) -> BenchRoom {
    let mut room = BenchRoom::new(subscribers).expect("bench room connects");
    // Warm-up: first packets set up rewriters, payload-type caches and buffers.
    for d in room.prepare(200) {
        room.forward(&d);
    }
    room
}

fn forward(c: &mut Criterion) {
    let mut group = c.benchmark_group("forward");
    group.measurement_time(Duration::from_secs(4));
    group.warm_up_time(Duration::from_secs(1));
    group.sample_size(20);
    for n in SIZES {
        let mut room = room(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("subscribers", n), |b| {
            b.iter_custom(|iters| {
                let datagrams = room.prepare(iters as usize);
                let start = Instant::now();
                for d in &datagrams {
                    black_box(room.forward(d));
                }
                start.elapsed()
            })
        });
    }
    group.finish();
}

/// Median ns per packet over batches, and allocations per packet, for one room size.
fn measure(n: usize) -> (f64, f64) {
    let mut room = room(n);
    let per_batch = (20_000 / n).clamp(20, 2_000);
    let mut ns = Vec::new();
    let mut allocs = 0u64;
    let mut packets = 0u64;
    for _ in 0..15 {
        let datagrams = room.prepare(per_batch);
        let a0 = ALLOCS.load(Ordering::Relaxed);
        let start = Instant::now();
        for d in &datagrams {
            black_box(room.forward(d));
        }
        let elapsed = start.elapsed();
        allocs += ALLOCS.load(Ordering::Relaxed) - a0;
        packets += datagrams.len() as u64;
        ns.push(elapsed.as_nanos() as f64 / datagrams.len().max(1) as f64);
    }
    ns.sort_by(f64::total_cmp);
    (ns[ns.len() / 2], allocs as f64 / packets.max(1) as f64)
}

fn write_csv() {
    let mut csv = String::from(
        "subscribers,ns_per_packet,ns_per_packet_per_subscriber,allocs_per_packet,allocs_per_packet_per_subscriber\n",
    );
    for n in SIZES {
        let (ns, allocs) = measure(n);
        let _ = writeln!(
            csv,
            "{n},{ns:.0},{:.1},{allocs:.2},{:.3}",
            ns / n as f64,
            allocs / n as f64
        );
        eprintln!(
            "hot path, {n} subscribers: {ns:.0} ns/packet, {:.1} ns/packet/subscriber, {allocs:.2} allocs/packet",
            ns / n as f64
        );
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results/hotpath.csv");
    if let Err(err) = std::fs::write(&path, csv) {
        eprintln!("cannot write {}: {err}", path.display());
    }
}

criterion_group!(benches, forward);

fn main() {
    // `cargo test --benches` runs this binary with `--bench` absent: keep that quick.
    let benching = std::env::args().any(|a| a == "--bench");
    if benching {
        write_csv();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
