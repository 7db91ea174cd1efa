//! Latency of a cached call on the local store: a hit and a miss with small
//! arguments, a hit whose entry recorded dependencies, the cost of an
//! annotated helper outside a miss, and the disabled-Memory pass-through as
//! the floor.
//!
//! The cache lives in a fresh top-level directory (see `bench_dir`): file
//! creation slows down for minutes near directories where many files were
//! just deleted, such as `/tmp` after a build.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use memory::Memory;

#[path = "common.rs"]
mod common;

fn main() {
    divan::main();
    let _ = std::fs::remove_dir_all(&*BENCH_DIR);
}

static BENCH_DIR: LazyLock<PathBuf> = LazyLock::new(|| common::fresh_dir("memo-bench-"));

static CACHE: LazyLock<Memory> = LazyLock::new(|| Memory::new(&*BENCH_DIR));
static DISABLED: LazyLock<Memory> = LazyLock::new(Memory::disabled);

#[memory::cache(memory = CACHE)]
fn add(a: u64, b: &str) -> u64 {
    a + b.len() as u64
}

#[memory::cache(memory = DISABLED)]
fn add_uncached(a: u64, b: &str) -> u64 {
    a + b.len() as u64
}

/// Annotated helpers: recorded with `add_with_deps`'s entries, checked on
/// each of its hits.
mod helpers {
    #[memory::fingerprint]
    pub fn scale(x: u64) -> u64 {
        x * 3
    }

    #[memory::fingerprint]
    pub fn offset(x: u64) -> u64 {
        x + 7
    }

    #[memory::fingerprint]
    pub fn clamp(x: u64) -> u64 {
        x.min(1 << 40)
    }

    #[memory::fingerprint]
    pub fn combine(a: u64, b: usize) -> u64 {
        clamp(offset(scale(a))) + b as u64
    }
}

#[memory::cache(memory = CACHE)]
fn add_with_deps(a: u64, b: &str) -> u64 {
    helpers::combine(a, b.len())
}

/// A small call whose entry is on disk (and in the page cache).
#[divan::bench]
fn hit(bencher: divan::Bencher) {
    add(1, "warm");
    bencher.bench(|| add(black_box(1), black_box("warm")));
}

/// A small call never seen before: hash, look up, run, encode, write.
#[divan::bench(sample_count = 200, sample_size = 20)]
fn miss(bencher: divan::Bencher) {
    static NEXT: AtomicU64 = AtomicU64::new(1_000_000);
    bencher.bench(|| add(NEXT.fetch_add(1, Ordering::Relaxed), black_box("cold")));
}

/// The same call through a disabled Memory: the cost of the wrapper alone.
#[divan::bench]
fn disabled(bencher: divan::Bencher) {
    bencher.bench(|| add_uncached(black_box(1), black_box("warm")));
}

/// [`hit`], for an entry that recorded four annotated helpers: each is
/// compared with this binary's fingerprint.
#[divan::bench]
fn hit_with_recorded_deps(bencher: divan::Bencher) {
    add_with_deps(1, "warm");
    bencher.bench(|| add_with_deps(black_box(1), black_box("warm")));
}

/// An annotated helper called outside any miss: its whole recording cost.
#[divan::bench]
fn annotated_helper_outside_a_miss(bencher: divan::Bencher) {
    bencher.bench(|| helpers::combine(black_box(1), black_box(4)));
}
