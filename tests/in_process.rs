//! `Memory::in_process`: repeated calls served from memory, under the
//! on-disk key exactly; what this process's and another process's
//! administration mean for the copies; expiry still applies; the budget.

use std::path::Path;
use std::process::Command;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use memo_tests::{cache_dir, entry_files, memo_cli, process_cache_dir};
use memory::{Array, Memory};

/// Runs `memo --location cache ARGS` as a separate process.
fn memo(cache: &Path, args: &[&str]) {
    let output = Command::new(memo_cli())
        .args(["--location", cache.to_str().unwrap(), "--no-progress"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "memo {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

static DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
/// Copies never recheck their files here (an hour): what a foreign removal
/// means until then is asserted without a race against the clock.
static KEPT: LazyLock<Memory> = LazyLock::new(|| {
    Memory::new(DIR.as_path())
        .in_process("1M")
        .in_process_recheck(HOUR)
});
const HOUR: Duration = Duration::from_secs(3600);
static RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = KEPT)]
fn triple(x: u64) -> u64 {
    RUNS.fetch_add(1, Ordering::SeqCst);
    x * 3
}

#[memory::cache(memory = KEPT)]
fn quadruple(x: u64) -> u64 {
    RUNS.fetch_add(1, Ordering::SeqCst);
    x * 4
}

#[memory::cache(memory = KEPT)]
fn scaled<T: Default + serde::Serialize + 'static>(x: u64) -> u64 {
    let _ = T::default();
    RUNS.fetch_add(1, Ordering::SeqCst);
    x * std::mem::size_of::<T>() as u64
}

fn runs() -> usize {
    RUNS.load(Ordering::SeqCst)
}

/// One test: the functions above share `RUNS`.
#[test]
fn copies_are_keyed_as_on_disk_and_outlive_only_foreign_removals() {
    // The key is the on-disk key: function, arguments, type arguments.
    assert_eq!((triple(2), triple(3), quadruple(2)), (6, 9, 8));
    assert_eq!((scaled::<u8>(5), scaled::<u32>(5)), (5, 20));
    assert_eq!(runs(), 5);
    for _ in 0..3 {
        assert_eq!((triple(2), triple(3), quadruple(2)), (6, 9, 8));
        assert_eq!((scaled::<u8>(5), scaled::<u32>(5)), (5, 20));
    }
    assert_eq!(runs(), 5, "repeated calls are hits");

    // Another process clears the cache: this process keeps serving its
    // copies until they recheck their files (documented; see
    // `foreign_removals_are_seen_at_the_recheck` for the bound).
    memo(DIR.as_path(), &["clear", "--yes"]);
    assert!(entry_files(DIR.as_path()).is_empty());
    assert_eq!(triple(2), 6);
    assert_eq!(runs(), 5, "served from memory after a foreign clear");

    // This process's own clear drops the copies.
    triple(3);
    KEPT.clear().unwrap();
    assert_eq!((triple(2), triple(3)), (6, 9));
    assert_eq!(runs(), 7, "recomputed after our own clear");
    assert_eq!(entry_files(DIR.as_path()).len(), 2);

    // So does our own reduce_size, even one that removes nothing.
    memo(DIR.as_path(), &["clear", "--yes"]);
    KEPT.reduce_size(memory::manage::Limits::new().items(100))
        .unwrap();
    assert_eq!(triple(2), 6);
    assert_eq!(runs(), 8, "recomputed after our own reduce_size");
}

static EXPIRING_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static EXPIRING: LazyLock<Memory> = LazyLock::new(|| {
    Memory::new(EXPIRING_DIR.as_path())
        .in_process("1M")
        .expires_after(Duration::from_millis(300))
});
static EXPIRING_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = EXPIRING)]
fn expiring(x: u64) -> u64 {
    EXPIRING_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn an_expired_copy_is_never_served() {
    expiring(1);
    expiring(1);
    assert_eq!(EXPIRING_RUNS.load(Ordering::SeqCst), 1);
    std::thread::sleep(Duration::from_millis(400));
    expiring(1);
    assert_eq!(
        EXPIRING_RUNS.load(Ordering::SeqCst),
        2,
        "expiry is checked on in-process hits"
    );
}

static SMALL_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static SMALL: LazyLock<Memory> = LazyLock::new(|| {
    Memory::new(SMALL_DIR.as_path())
        .in_process(4096_u64)
        .in_process_recheck(HOUR)
});
static SMALL_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = SMALL)]
fn sized(len: usize) -> Vec<u8> {
    SMALL_RUNS.fetch_add(1, Ordering::SeqCst);
    vec![1; len]
}

#[memory::cache(memory = SMALL)]
fn array(len: usize) -> Array<f64> {
    SMALL_RUNS.fetch_add(1, Ordering::SeqCst);
    (0..len).map(|i| i as f64).collect()
}

#[test]
fn outputs_over_the_budget_or_out_of_line_are_read_from_disk() {
    // Half the budget is the largest copy kept.
    sized(10);
    sized(10_000);
    sized(10);
    sized(10_000);
    assert_eq!(SMALL_RUNS.load(Ordering::SeqCst), 2);
    memo(SMALL_DIR.as_path(), &["clear", "--yes"]);
    sized(10);
    assert_eq!(
        SMALL_RUNS.load(Ordering::SeqCst),
        2,
        "the small one is kept"
    );
    sized(10_000);
    assert_eq!(SMALL_RUNS.load(Ordering::SeqCst), 3, "the large one is not");

    // Out-of-line arrays come from their file every time.
    array(100_000);
    array(100_000);
    assert_eq!(SMALL_RUNS.load(Ordering::SeqCst), 4);
    memo(SMALL_DIR.as_path(), &["clear", "--yes"]);
    assert_eq!(array(100_000).len(), 100_000);
    assert_eq!(SMALL_RUNS.load(Ordering::SeqCst), 5);
}

static RECHECKED_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static RECHECKED: LazyLock<Memory> = LazyLock::new(|| {
    Memory::new(RECHECKED_DIR.as_path())
        .in_process("1M")
        .in_process_recheck(Duration::from_millis(50))
});
static RECHECKED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = RECHECKED)]
fn rechecked(x: u64) -> u64 {
    RECHECKED_RUNS.fetch_add(1, Ordering::SeqCst);
    x + 1
}

#[test]
fn foreign_removals_are_seen_at_the_recheck() {
    let runs = || RECHECKED_RUNS.load(Ordering::SeqCst);
    for _ in 0..5 {
        assert_eq!((rechecked(1), rechecked(2)), (2, 3));
    }
    assert_eq!(runs(), 2);
    // Another process removes everything: once the recheck interval has
    // passed, a hit finds the file gone and the call recomputes.
    memo(RECHECKED_DIR.as_path(), &["clear", "--yes"]);
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(rechecked(1), 2);
    assert_eq!(runs(), 3, "recomputed once the copy rechecked its file");
    assert_eq!(entry_files(RECHECKED_DIR.as_path()).len(), 1);
    // And kept again from the new entry.
    std::thread::sleep(Duration::from_millis(150));
    for _ in 0..5 {
        assert_eq!(rechecked(1), 2);
    }
    assert_eq!(runs(), 3);
}

static COUNTED_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static COUNTED: LazyLock<Memory> = LazyLock::new(|| {
    Memory::new(COUNTED_DIR.as_path())
        .in_process("1M")
        .in_process_recheck(HOUR)
});

#[memory::cache(memory = COUNTED)]
fn counted(x: u64) -> u64 {
    x * 5
}

#[test]
fn hits_from_memory_reach_the_usage_records() {
    // One miss, one hit from disk (which keeps the copy), then 7 from memory.
    for _ in 0..9 {
        assert_eq!(counted(3), 15);
    }
    COUNTED.flush_usage().unwrap();
    let stats = COUNTED.stats().unwrap();
    let stats = stats
        .iter()
        .find(|f| f.identity.ends_with("counted"))
        .expect("stats of counted");
    assert_eq!((stats.misses, stats.hits), (1, 8));
}

static COMPRESSED_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static COMPRESSED: LazyLock<Memory> = LazyLock::new(|| {
    Memory::new(COMPRESSED_DIR.as_path())
        .compress(3)
        .in_process("1M")
        .in_process_recheck(HOUR)
});
static COMPRESSED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = COMPRESSED)]
fn words(n: usize) -> Vec<String> {
    COMPRESSED_RUNS.fetch_add(1, Ordering::SeqCst);
    (0..n).map(|i| format!("word {i}")).collect()
}

#[test]
fn compressed_outputs_are_served_from_memory() {
    let expected: Vec<String> = (0..500).map(|i| format!("word {i}")).collect();
    assert_eq!(words(500), expected);
    assert_eq!(words(500), expected);
    // Only the copy is left: what it serves is the output, uncompressed.
    memo(COMPRESSED_DIR.as_path(), &["clear", "--yes"]);
    for _ in 0..3 {
        assert_eq!(words(500), expected);
    }
    assert_eq!(COMPRESSED_RUNS.load(Ordering::SeqCst), 1);
}

#[test]
fn hits_from_memory_reach_the_usage_records_at_exit() {
    let dir = cache_dir();
    let status = Command::new(env!("CARGO_BIN_EXE_in_process_hits"))
        .arg("10")
        .env("MEMO_CACHE_DIR", dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    // One miss, one hit from disk (which keeps the copy), 8 from memory,
    // never flushed by the program: handed on by its exit handlers.
    let stats = Memory::new(dir.path()).stats().unwrap();
    let stats = stats
        .iter()
        .find(|f| f.identity.ends_with("counted"))
        .expect("stats of counted");
    assert_eq!((stats.misses, stats.hits), (1, 9));
}
