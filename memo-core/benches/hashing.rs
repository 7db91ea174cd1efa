//! Argument hashing throughput: `cargo bench -p memo-core --bench hashing`.
//!
//! The large-slice cases measure the bulk path against raw xxh3 (the
//! ceiling); the small cases measure the fixed cost of one `digest` call.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::LazyLock;

use divan::Bencher;
use divan::counter::BytesCount;
use memory::hash::digest;

fn main() {
    divan::main();
}

const LARGE: usize = 256 << 20;
const MEDIUM: usize = 1 << 20;

fn floats(bytes: usize) -> Vec<f64> {
    (0..bytes / 8).map(|i| i as f64 * 0.5).collect()
}

static LARGE_F64: LazyLock<Vec<f64>> = LazyLock::new(|| floats(LARGE));

#[divan::bench(sample_count = 20)]
fn vec_f64_256mib(bencher: Bencher) {
    let v = &*LARGE_F64;
    bencher
        .counter(BytesCount::new(LARGE))
        .bench(|| digest(black_box(v)));
}

/// A `memory::Array<f64>` argument: the same bulk path as a `Vec<f64>`.
#[divan::bench(sample_count = 20)]
fn array_f64_256mib(bencher: Bencher) {
    let array: memory::Array<f64> = LARGE_F64.clone().into();
    bencher
        .counter(BytesCount::new(LARGE))
        .bench(|| digest(black_box(&array)));
}

/// The ceiling: xxh3-128 over the same memory, in one call.
#[divan::bench(sample_count = 20)]
fn raw_xxh3_256mib(bencher: Bencher) {
    let v = &*LARGE_F64;
    // SAFETY: f64 has no padding; the bytes view borrows `v`.
    let bytes = unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), LARGE) };
    bencher
        .counter(BytesCount::new(LARGE))
        .bench(|| xxhash_rust::xxh3::xxh3_128(black_box(bytes)));
}

const SIXTEEN: usize = 16 << 20;

#[divan::bench(sample_count = 50)]
fn vec_f64_16mib(bencher: Bencher) {
    let v = floats(SIXTEEN);
    bencher
        .counter(BytesCount::new(SIXTEEN))
        .bench(|| digest(black_box(&v)));
}

/// The single-core ceiling at 16 MiB.
#[divan::bench(sample_count = 50)]
fn raw_xxh3_16mib(bencher: Bencher) {
    let v = floats(SIXTEEN);
    // SAFETY: f64 has no padding; the bytes view borrows `v`.
    let bytes = unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), SIXTEEN) };
    bencher
        .counter(BytesCount::new(SIXTEEN))
        .bench(|| xxhash_rust::xxh3::xxh3_128(black_box(bytes)));
}

#[divan::bench]
fn vec_f64_1mib(bencher: Bencher) {
    let v = floats(MEDIUM);
    bencher
        .counter(BytesCount::new(MEDIUM))
        .bench(|| digest(black_box(&v)));
}

/// The element path, for comparison: same values, no bulk path.
#[divan::bench]
fn vecdeque_f64_1mib(bencher: Bencher) {
    let v: std::collections::VecDeque<f64> = floats(MEDIUM).into();
    bencher
        .counter(BytesCount::new(MEDIUM))
        .bench(|| digest(black_box(&v)));
}

#[divan::bench]
fn slice_f32_1mib(bencher: Bencher) {
    let v: Vec<f32> = (0..MEDIUM / 4).map(|i| i as f32).collect();
    let slice: &[f32] = &v;
    bencher
        .counter(BytesCount::new(MEDIUM))
        .bench(|| digest(black_box(slice)));
}

#[divan::bench]
fn small_tuple(bencher: Bencher) {
    bencher.bench(|| digest(black_box(&(42u64, "some argument"))));
}

#[divan::bench]
fn hashmap_1000(bencher: Bencher) {
    let map: HashMap<String, u64> = (0..1000).map(|i| (format!("key-{i}"), i)).collect();
    bencher.bench(|| digest(black_box(&map)));
}
