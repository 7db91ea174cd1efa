//! Large numeric outputs: writing a miss, loading a hit fully (read and
//! checksum), and mapping a hit, at 1, 16 and 256 MiB of `f64`s.
//!
//! Throughput is reported in bytes of array per second. The cache lives in
//! a fresh top-level directory (file creation is slow near recently deleted
//! files on this disk); entries stay in the page cache between iterations,
//! which is what "from the page cache" means in the figures.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use divan::counter::BytesCount;
use memory::{Array, Memory, MmapMode};

#[path = "common.rs"]
mod common;

fn main() {
    divan::main();
    let _ = std::fs::remove_dir_all(&*BENCH_DIR);
}

static BENCH_DIR: LazyLock<PathBuf> = LazyLock::new(|| common::fresh_dir("memo-bench-arrays-"));

static WRITES: LazyLock<Memory> = LazyLock::new(|| Memory::new(BENCH_DIR.join("writes")));
static LOADED: LazyLock<Memory> = LazyLock::new(|| Memory::new(BENCH_DIR.join("loaded")));
static MAPPED: LazyLock<Memory> =
    LazyLock::new(|| Memory::new(BENCH_DIR.join("mapped")).mmap_mode(MmapMode::ReadOnly));

const SIZES_MIB: [usize; 3] = [1, 16, 256];

fn ramp(mib: usize, salt: u64) -> Array<f64> {
    (0..mib * 1024 * 1024 / 8)
        .map(|i| (i as u64 ^ salt) as f64)
        .collect()
}

#[memory::cache(memory = LOADED)]
fn loaded(mib: usize, salt: u64) -> Array<f64> {
    ramp(mib, salt)
}

#[memory::cache(memory = MAPPED)]
fn mapped(mib: usize, salt: u64) -> Array<f64> {
    ramp(mib, salt)
}

/// A hit, read into memory and checked against the blob checksum.
#[divan::bench(args = SIZES_MIB, sample_count = 20)]
fn hit_full_load(bencher: divan::Bencher, mib: usize) {
    loaded(mib, 0);
    bencher
        .counter(BytesCount::new(mib * 1024 * 1024))
        .bench(|| black_box(loaded(black_box(mib), 0)));
}

/// A hit, memory-mapped read-only, then every element read once.
#[divan::bench(args = SIZES_MIB, sample_count = 20)]
fn hit_mapped_and_read(bencher: divan::Bencher, mib: usize) {
    mapped(mib, 0);
    bencher
        .counter(BytesCount::new(mib * 1024 * 1024))
        .bench(|| {
            let array = mapped(black_box(mib), 0);
            black_box(array.iter().fold(0.0, |a, b| a + b))
        });
}

/// A hit, memory-mapped read-only, elements untouched: the cost of the
/// lookup and the map alone.
#[divan::bench(args = SIZES_MIB, sample_count = 20)]
fn hit_mapped(bencher: divan::Bencher, mib: usize) {
    mapped(mib, 0);
    bencher.bench(|| black_box(mapped(black_box(mib), 0)));
}

/// Deletes what a miss wrote, outside the timing: dirty pages of deleted
/// files need no writeback, so the next iteration measures writing to the
/// page cache, not this VM's disk (which writeback throttling would).
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        WRITES.clear().expect("clear the write benchmark's cache");
    }
}

/// A miss: the output (computed outside the timing) encoded and written.
#[divan::bench(args = SIZES_MIB, sample_count = 10)]
fn miss_write(bencher: divan::Bencher, mib: usize) {
    static SALT: AtomicU64 = AtomicU64::new(1);
    bencher
        .counter(BytesCount::new(mib * 1024 * 1024))
        .with_inputs(|| (SALT.fetch_add(1, Ordering::Relaxed), ramp(mib, 0)))
        .bench_local_values(|(salt, precomputed)| {
            black_box(store_precomputed(mib, salt, precomputed));
            Cleanup
        });
}

/// The limit for `miss_write`: the same bytes written to a new file on the
/// same file system with one `write` (`std::fs::write`).
#[divan::bench(args = SIZES_MIB, sample_count = 10)]
fn plain_write(bencher: divan::Bencher, mib: usize) {
    struct Unlink(PathBuf);
    impl Drop for Unlink {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    static N: AtomicU64 = AtomicU64::new(0);
    let array = ramp(mib, 0);
    // SAFETY: f64 has no padding; the bytes view borrows `array`.
    let bytes =
        unsafe { std::slice::from_raw_parts(array.as_ptr().cast::<u8>(), mib * 1024 * 1024) };
    std::fs::create_dir_all(BENCH_DIR.join("plain")).unwrap();
    bencher
        .counter(BytesCount::new(mib * 1024 * 1024))
        .with_inputs(|| {
            let n = N.fetch_add(1, Ordering::Relaxed);
            BENCH_DIR.join("plain").join(n.to_string())
        })
        .bench_local_values(|path| {
            std::fs::write(&path, bytes).unwrap();
            Unlink(path)
        });
}

/// `loaded`'s twin whose body returns an array computed beforehand, so the
/// timing is the cache's work only.
fn store_precomputed(mib: usize, salt: u64, precomputed: Array<f64>) -> usize {
    #[memory::cache(memory = WRITES, ignore = ["precomputed"])]
    fn stored(mib: usize, salt: u64, precomputed: Array<f64>) -> Array<f64> {
        let _ = (mib, salt);
        precomputed
    }
    stored(mib, salt, precomputed).len()
}
