//! Chained calls: an `Array` returned by a cached function carries the
//! digest of its bytes, so handing it to another cached function hashes it
//! in O(1), while keys stay what hashing the bytes gives (an `NdArray` too).

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use memo_tests::process_cache_dir;
use memory::{Array, Memory, MmapMode};

static DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static CACHE: LazyLock<Memory> =
    LazyLock::new(|| Memory::new(DIR.as_path()).mmap_mode(MmapMode::ReadOnly));
static LOADED_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static LOADED: LazyLock<Memory> = LazyLock::new(|| Memory::new(LOADED_DIR.as_path()));

static H_RUNS: AtomicUsize = AtomicUsize::new(0);

fn values(n: usize) -> Vec<f64> {
    (0..n).map(|i| i as f64 * 0.5).collect()
}

#[memory::cache(memory = CACHE)]
fn g(n: usize) -> Array<f64> {
    values(n).into()
}

#[memory::cache(memory = CACHE)]
fn h(a: &Array<f64>) -> f64 {
    H_RUNS.fetch_add(1, Ordering::SeqCst);
    a[a.len() - 1]
}

#[memory::cache(memory = LOADED)]
fn g_loaded(n: usize) -> Array<f64> {
    values(n).into()
}

/// 256 MiB of `f64`.
const BIG: usize = 32 << 20;

#[test]
fn a_cached_array_is_hashed_in_constant_time() {
    let a = g(BIG);
    assert!(a.is_mapped(), "the miss returns the stored array, mapped");
    assert!(a.digest().is_some(), "a stored array knows its digest");
    let runs = H_RUNS.load(Ordering::SeqCst);
    assert_eq!(h(&a), (BIG - 1) as f64 * 0.5);
    assert_eq!(H_RUNS.load(Ordering::SeqCst), runs + 1);
    // Hits, each hashing 256 MiB: in a debug build, hashing the bytes would
    // take far longer than the bound.
    let fastest = (0..20)
        .map(|_| {
            let start = Instant::now();
            assert_eq!(h(&a), (BIG - 1) as f64 * 0.5);
            start.elapsed()
        })
        .min()
        .unwrap();
    assert_eq!(H_RUNS.load(Ordering::SeqCst), runs + 1, "all hits");
    assert!(
        fastest < Duration::from_millis(1),
        "h(&g(n)) hit in {fastest:?}, over 1 ms"
    );
    // A hit of g hands back an array with its digest too.
    let again = g(BIG);
    assert_eq!(again.digest(), a.digest());
    h(&again);
    assert_eq!(H_RUNS.load(Ordering::SeqCst), runs + 1, "g's hit hits h");
}

#[test]
fn keys_equal_hashing_the_bytes() {
    // 16 MiB: large enough to be a digest run, small enough to hash fresh
    // in a debug build.
    let n = 2 << 20;
    let stored = g(n);
    let fresh: Array<f64> = values(n).into();
    assert!(fresh.digest().is_none());
    assert_eq!(
        stored.digest(),
        Some(memory::hash::run_digest(bytes(&fresh)))
    );
    assert_eq!(
        memory::hash::digest(&stored).unwrap(),
        memory::hash::digest(&fresh).unwrap(),
        "the carried digest gives the key the bytes give"
    );
    assert_eq!(
        memory::hash::digest(&stored).unwrap(),
        memory::hash::digest(&values(n)).unwrap(),
        "and a Vec of the same values hashes the same"
    );
    // A full load checks the bytes against the digest, and keeps it.
    let miss = g_loaded(n);
    let hit = g_loaded(n);
    assert!(!hit.is_mapped());
    assert_eq!(miss.digest(), stored.digest());
    let loaded = hit;
    assert_eq!(loaded.digest(), stored.digest());
}

#[test]
fn a_changed_array_forgets_its_digest_and_a_part_is_hashed_normally() {
    let n = 2 << 20;
    let stored = g(n);
    let digest = stored.digest();
    assert!(digest.is_some());
    // A clone has the same bytes and keeps it.
    let mut changed = stored.clone();
    assert_eq!(changed.digest(), digest);
    changed.make_mut()[0] = 42.0;
    assert_eq!(changed.digest(), None, "make_mut forgets the digest");
    let mut expected = values(n);
    expected[0] = 42.0;
    assert_eq!(
        memory::hash::digest(&changed).unwrap(),
        memory::hash::digest(&expected).unwrap()
    );
    // A slice of part of it hashes its own bytes.
    assert_eq!(
        memory::hash::digest(&stored[1..]).unwrap(),
        memory::hash::digest(&values(n)[1..]).unwrap()
    );
}

fn bytes(a: &Array<f64>) -> &[u8] {
    // SAFETY: f64 has no padding; the borrow is carried over.
    unsafe { std::slice::from_raw_parts(a.as_ptr().cast::<u8>(), size_of_val(a.as_slice())) }
}

#[memory::cache(memory = CACHE)]
fn grid(rows: usize) -> memory::NdArray<f64, ndarray::Ix2> {
    ndarray::Array2::from_shape_fn((rows, 1024), |(i, j)| (i * 1024 + j) as f64).into()
}

static CORNER_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = CACHE)]
fn corner(m: &memory::NdArray<f64, ndarray::Ix2>) -> f64 {
    CORNER_RUNS.fetch_add(1, Ordering::SeqCst);
    m.view()[[m.shape()[0] - 1, 1023]]
}

#[test]
fn an_ndarray_from_the_cache_reuses_its_digest_too() {
    // 16 MiB: a view of the whole stored array keeps its digest.
    let m = grid(2048);
    assert!(m.as_array().digest().is_some());
    let fresh: memory::NdArray<f64, ndarray::Ix2> = m.view().to_owned().into();
    assert!(fresh.as_array().digest().is_none());
    assert_eq!(
        memory::hash::digest(&m).unwrap(),
        memory::hash::digest(&fresh).unwrap()
    );
    assert_eq!(corner(&m), (2048 * 1024 - 1) as f64);
    assert_eq!(corner(&fresh), (2048 * 1024 - 1) as f64);
    assert_eq!(
        CORNER_RUNS.load(Ordering::SeqCst),
        1,
        "equal content, one key"
    );
}
