//! `reduce_size` by bytes, items and age, in least-recently-used order as
//! memo records it (not file access times), within a process and across
//! processes; and the automatic limits.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use memo_tests::{bytes_under, cache_dir, entry_files, process_cache_dir, run};
use memory::Memory;
use memory::manage::Limits;

const WORKER: &str = env!("CARGO_BIN_EXE_manage_worker");

/// Calls `f(x)` for each `x`, a few milliseconds apart so each use has its
/// own time.
fn use_in_order(f: fn(u64) -> u64, xs: impl IntoIterator<Item = u64>) {
    for x in xs {
        f(x);
        std::thread::sleep(Duration::from_millis(3));
    }
}

/// Which of `xs` are computed when called again (and calls them).
fn recomputed(
    f: fn(u64) -> u64,
    runs: &AtomicUsize,
    xs: impl IntoIterator<Item = u64>,
) -> Vec<u64> {
    xs.into_iter()
        .filter(|&x| {
            let before = runs.load(Ordering::SeqCst);
            f(x);
            runs.load(Ordering::SeqCst) > before
        })
        .collect()
}

static ITEMS_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static ITEMS: LazyLock<Memory> = LazyLock::new(|| Memory::new(ITEMS_DIR.as_path()));
static ITEMS_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = ITEMS)]
fn by_items(x: u64) -> u64 {
    ITEMS_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn items_limit_keeps_the_most_recently_used_entries() {
    use_in_order(by_items, 0..10);
    // Hits make old entries recent again: 2, 5 and 7 were used last.
    use_in_order(by_items, [2, 5, 7]);
    assert_eq!(ITEMS_RUNS.load(Ordering::SeqCst), 10);
    let report = ITEMS.reduce_size(Limits::new().items(3)).unwrap();
    assert_eq!(report.removed.entries, 7, "{report:?}");
    assert_eq!(report.evicted.entries, 7);
    assert_eq!(report.after.entries, 3);
    assert_eq!(entry_files(ITEMS_DIR.as_path()).len(), 3);
    assert_eq!(
        recomputed(by_items, &ITEMS_RUNS, [2, 5, 7]),
        Vec::<u64>::new()
    );
    assert_eq!(recomputed(by_items, &ITEMS_RUNS, [0, 9]), vec![0, 9]);
}

static BYTES_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static BYTES: LazyLock<Memory> = LazyLock::new(|| Memory::new(BYTES_DIR.as_path()));
static BYTES_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = BYTES)]
fn by_bytes(x: u64) -> u64 {
    BYTES_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn bytes_limit_evicts_least_recently_used_until_the_size_holds() {
    use_in_order(by_bytes, 0..8);
    use_in_order(by_bytes, [0, 1]);
    let sizes: Vec<u64> = entry_files(BYTES_DIR.as_path())
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .collect();
    let largest = *sizes.iter().max().unwrap();
    // Room for four entries: the four used last (0, 1, then 7 and 6).
    let report = BYTES
        .reduce_size(Limits::new().bytes(4 * largest + largest / 2))
        .unwrap();
    assert_eq!(report.after.entries, 4, "{report:?}");
    assert!(report.after.bytes <= 4 * largest + largest / 2);
    assert_eq!(
        recomputed(by_bytes, &BYTES_RUNS, [0, 1, 6, 7]),
        Vec::<u64>::new()
    );
    assert_eq!(recomputed(by_bytes, &BYTES_RUNS, [2, 5]), vec![2, 5]);
    // A size as people write it.
    let report = BYTES.reduce_size(Limits::new().bytes("1K")).unwrap();
    assert!(report.after.bytes <= 1024, "{report:?}");
}

static AGE_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static AGE: LazyLock<Memory> = LazyLock::new(|| Memory::new(AGE_DIR.as_path()));
static AGE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = AGE)]
fn by_age(x: u64) -> u64 {
    AGE_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn age_limit_removes_entries_unused_for_longer_than_it() {
    by_age(1);
    by_age(2);
    std::thread::sleep(Duration::from_millis(600));
    by_age(2); // a hit: 2 is in use, 1 is not
    by_age(3);
    let report = AGE
        .reduce_size(Limits::new().age(Duration::from_millis(300)))
        .unwrap();
    assert_eq!(report.expired.entries, 1, "{report:?}");
    assert_eq!(recomputed(by_age, &AGE_RUNS, [1, 2, 3]), vec![1]);
}

#[test]
fn least_recently_used_order_comes_from_memos_records_across_processes() {
    let cache = cache_dir();
    for x in 1..=4 {
        run(WORKER, cache.path(), &["square", &x.to_string()]);
        std::thread::sleep(Duration::from_millis(5));
    }
    // A later process hits 1: it is used more recently than 2, 3 and 4.
    let hit = run(WORKER, cache.path(), &["square", "1"]);
    assert_eq!(hit.count("computing square(1)"), 0);
    // Entry files' access and modification times say nothing of that hit.
    let report = Memory::new(cache.path())
        .reduce_size(Limits::new().items(2))
        .unwrap();
    assert_eq!(report.removed.entries, 2, "{report:?}");
    let again = run(WORKER, cache.path(), &["square", "1", "4", "2", "3"]);
    assert_eq!(again.count("computing square(1)"), 0, "{again:?}");
    assert_eq!(again.count("computing square(4)"), 0, "{again:?}");
    assert_eq!(again.count("computing square(2)"), 1);
    assert_eq!(again.count("computing square(3)"), 1);
}

#[test]
fn a_dry_run_removes_nothing() {
    let cache = cache_dir();
    run(WORKER, cache.path(), &["square", "1", "2", "3"]);
    let cache_handle = memory::manage::Cache::open(cache.path()).unwrap();
    let report = cache_handle
        .reduce(
            &Limits::new().items(0),
            &memory::manage::ReduceOptions::default().dry_run(true),
            &memory::manage::NoProgress,
        )
        .unwrap();
    assert!(report.dry_run);
    assert_eq!(report.removed.entries, 3);
    assert_eq!(entry_files(cache.path()).len(), 3);
}

#[test]
fn reducing_a_cache_that_was_never_created_is_a_no_op() {
    let parent = cache_dir();
    let memory = Memory::new(parent.path().join("never-used"));
    let report = memory.reduce_size(Limits::new().items(0)).unwrap();
    assert_eq!(report.removed.entries, 0);
    assert!(!parent.path().join("never-used").exists());
    let report = Memory::disabled()
        .reduce_size(Limits::new().items(0))
        .unwrap();
    assert_eq!(report.removed.entries, 0);
}

static AUTO_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static AUTO: LazyLock<Memory> = LazyLock::new(|| Memory::new(AUTO_DIR.as_path()).items_limit(5));

#[memory::cache(memory = AUTO)]
fn automatic(x: u64) -> u64 {
    x
}

fn wait_for_enforcement(memory: &Memory) {
    let started = Instant::now();
    while memory.enforcing_limits() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "enforcement never ended"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn items_limit_on_a_memory_is_enforced_automatically_in_the_background() {
    for x in 0..40 {
        automatic(x);
    }
    wait_for_enforcement(&AUTO);
    // One more write starts a check that sees everything written.
    automatic(1000);
    wait_for_enforcement(&AUTO);
    let left = entry_files(AUTO_DIR.as_path()).len();
    assert!(left <= 5, "{left} entries left over an items limit of 5");
    assert!(left > 0);
}

static BLOBS_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static BLOBS: LazyLock<Memory> =
    LazyLock::new(|| Memory::new(BLOBS_DIR.as_path()).bytes_limit("8M"));

/// 2 MiB of `f64`s, different for each `x`: stored in the blob area.
#[memory::cache(memory = BLOBS)]
fn two_mib(x: u64) -> memory::Array<f64> {
    (0..(2 << 20) / 8).map(|i| (i as u64 ^ x) as f64).collect()
}

#[test]
fn a_bytes_limit_counts_the_arrays_of_the_blob_area() {
    // Entries of a few hundred bytes whose arrays sit in the blob area:
    // the limit is checked as the arrays pile up, not after megabytes of
    // entry files alone.
    for x in 0..10 {
        assert_eq!(two_mib(x).len(), (2 << 20) / 8);
        wait_for_enforcement(&BLOBS);
    }
    let total = bytes_under(BLOBS_DIR.as_path());
    assert!(
        total <= (8 << 20) + (256 << 10),
        "{total} bytes in a cache limited to 8 MiB after 20 MiB of arrays"
    );
    assert!(total >= 2 << 20, "the most recent array is kept");
}
