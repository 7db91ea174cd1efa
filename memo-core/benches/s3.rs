//! Latency of cached calls on an S3 store (behind its local tier), beside
//! the local store: a hit served by the local tier, a hit fetched from S3
//! into an empty tier, and a miss (computed, stored locally and put to S3),
//! with and without its compute-once lease.
//!
//! Needs an S3 server: `source scripts/s3-server.sh && memo_start_s3`
//! starts moto on 127.0.0.1 and exports `AWS_ENDPOINT_URL` and
//! `MEMO_TEST_S3_BUCKET`; then `cargo bench -p memo-core --features s3
//! --bench s3`. Without them it says so and exits. Against moto (a Python
//! server on the same machine) the S3 numbers are the client's and moto's
//! costs, not a network's: a real bucket adds its round-trip time.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use memory::Memory;

#[path = "common.rs"]
mod common;

/// Calls prepared for fetching, each fetched once: enough for every
/// iteration (a few under `cargo test`, which runs each bench once and, unlike
/// `cargo bench`, passes no `--bench`).
static PREPARED: LazyLock<u64> = LazyLock::new(|| {
    if !std::env::args().any(|a| a == "--bench") {
        4
    } else {
        400
    }
});

fn main() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    if endpoint.is_empty() || std::env::var("MEMO_TEST_S3_BUCKET").is_err() {
        eprintln!(
            "the S3 benchmark needs an S3 server: `source scripts/s3-server.sh && memo_start_s3` \
             starts one (moto) and sets AWS_ENDPOINT_URL and MEMO_TEST_S3_BUCKET"
        );
        return;
    }
    eprintln!("S3 server: {endpoint}");
    prepare();
    divan::main();
    let _ = SHARED.clear();
    let _ = SHARED_UNLEASED.clear();
    let _ = std::fs::remove_dir_all(&*BENCH_DIR);
}

/// A fresh directory for the local store and the local tier (see
/// `common.rs`).
static BENCH_DIR: LazyLock<PathBuf> = LazyLock::new(|| common::fresh_dir("memo-bench-s3-"));

static LOCAL: LazyLock<Memory> = LazyLock::new(|| Memory::new(BENCH_DIR.join("local")));

static SHARED: LazyLock<Memory> = LazyLock::new(|| {
    let bucket = std::env::var("MEMO_TEST_S3_BUCKET").unwrap();
    let id = std::process::id();
    Memory::new(format!("s3://{bucket}/bench-{id}")).local_tier(BENCH_DIR.join("tier"))
});

/// The same store without compute-once leases (`lease_time(ZERO)`): what
/// a lease adds to a miss (a conditional PUT to take it, a DELETE to
/// release it).
static SHARED_UNLEASED: LazyLock<Memory> = LazyLock::new(|| {
    let bucket = std::env::var("MEMO_TEST_S3_BUCKET").unwrap();
    let id = std::process::id();
    Memory::new(format!("s3://{bucket}/bench-unleased-{id}"))
        .local_tier(BENCH_DIR.join("tier-unleased"))
        .lease_time(std::time::Duration::ZERO)
});

#[memory::cache(memory = SHARED_UNLEASED)]
fn unleased_add(a: u64, b: &str) -> u64 {
    a + b.len() as u64
}

#[memory::cache(memory = LOCAL)]
fn local_add(a: u64, b: &str) -> u64 {
    a + b.len() as u64
}

#[memory::cache(memory = SHARED)]
fn shared_add(a: u64, b: &str) -> u64 {
    a + b.len() as u64
}

#[memory::cache(memory = SHARED)]
fn shared_block(seed: u64) -> Vec<u8> {
    vec![seed as u8; 1 << 20]
}

/// Stores the calls the fetch benches read, then empties the local tier
/// of them: each is then in S3 only.
fn prepare() {
    for i in 0..*PREPARED {
        shared_add(1_000_000 + i, "fetched");
        shared_block(i);
    }
    for dir in std::fs::read_dir(BENCH_DIR.join("tier")).unwrap().flatten() {
        let name = dir.file_name();
        if dir.path().is_dir() && !name.to_string_lossy().starts_with('.') {
            std::fs::remove_dir_all(dir.path()).unwrap();
        }
    }
}

/// A small call whose entry is in the local store.
#[divan::bench]
fn local_hit(bencher: divan::Bencher) {
    local_add(1, "warm");
    bencher.bench(|| local_add(black_box(1), black_box("warm")));
}

/// A small call never seen before, on the local store.
#[divan::bench(sample_count = 100, sample_size = 10)]
fn local_miss(bencher: divan::Bencher) {
    static NEXT: AtomicU64 = AtomicU64::new(1 << 40);
    bencher.bench(|| local_add(NEXT.fetch_add(1, Ordering::Relaxed), black_box("cold")));
}

/// A small call of the S3 store whose entry is in the local tier.
#[divan::bench]
fn s3_hit_local_tier(bencher: divan::Bencher) {
    shared_add(1, "warm");
    bencher.bench(|| shared_add(black_box(1), black_box("warm")));
}

/// A small call whose entry is in S3 and not in the local tier: fetched
/// (a GET, written into the tier) and decoded.
#[divan::bench(sample_count = 100, sample_size = 1)]
fn s3_hit_fetched(bencher: divan::Bencher) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    bencher.bench(|| {
        let i = NEXT.fetch_add(1, Ordering::Relaxed) % *PREPARED;
        shared_add(1_000_000 + i, black_box("fetched"))
    });
}

/// A 1 MiB output in S3 and not in the local tier.
#[divan::bench(sample_count = 100, sample_size = 1)]
fn s3_hit_fetched_1mib(bencher: divan::Bencher) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    bencher.bench(|| shared_block(NEXT.fetch_add(1, Ordering::Relaxed) % *PREPARED).len());
}

/// A small call never seen before on the S3 store: computed, written to
/// the local tier, and put to S3 (conditionally).
#[divan::bench(sample_count = 100, sample_size = 1)]
fn s3_miss(bencher: divan::Bencher) {
    static NEXT: AtomicU64 = AtomicU64::new(1 << 40);
    bencher.bench(|| shared_add(NEXT.fetch_add(1, Ordering::Relaxed), black_box("cold")));
}

/// [`s3_miss`] without a lease.
#[divan::bench(sample_count = 100, sample_size = 1)]
fn s3_miss_without_lease(bencher: divan::Bencher) {
    static NEXT: AtomicU64 = AtomicU64::new(1 << 40);
    bencher.bench(|| unleased_add(NEXT.fetch_add(1, Ordering::Relaxed), black_box("cold")));
}
