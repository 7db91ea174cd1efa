//! `Memory` options: a disabled Memory, `clear`, the default location, and
//! a cache that cannot be written still returning results.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use memo_tests::{cache_dir, entry_files, process_cache_dir, run, run_with};
use memory::Memory;

const WORKER: &str = env!("CARGO_BIN_EXE_worker");

static DISABLED: LazyLock<Memory> = LazyLock::new(Memory::disabled);
static DISABLED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = DISABLED)]
fn passthrough(x: u64) -> u64 {
    DISABLED_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn a_disabled_memory_runs_every_call() {
    assert_eq!(passthrough(1), 1);
    assert_eq!(passthrough(1), 1);
    assert_eq!(DISABLED_RUNS.load(Ordering::SeqCst), 2);
    assert_eq!(DISABLED.location(), None);
    DISABLED.clear().unwrap();
}

static CLEARED_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static CLEARED: LazyLock<Memory> = LazyLock::new(|| Memory::new(CLEARED_DIR.as_path()));
static CLEARED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = CLEARED)]
fn cleared(x: u64) -> u64 {
    CLEARED_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn clear_removes_every_entry_and_keeps_the_directory() {
    cleared(1);
    cleared(1);
    assert_eq!(CLEARED_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(entry_files(CLEARED_DIR.as_path()).len(), 1);

    CLEARED.clear().unwrap();
    assert!(entry_files(CLEARED_DIR.as_path()).is_empty());
    assert!(CLEARED_DIR.as_path().join(".gitignore").exists());
    cleared(1);
    assert_eq!(
        CLEARED_RUNS.load(Ordering::SeqCst),
        2,
        "cleared entries are recomputed"
    );
}

#[test]
fn without_memo_cache_dir_the_cache_is_dot_memo_cache_in_the_working_directory() {
    let cwd = cache_dir();
    let mut command = std::process::Command::new(WORKER);
    command
        .env_remove("MEMO_CACHE_DIR")
        .current_dir(cwd.path())
        .args(["square", "3"]);
    let first = run_with(&mut command);
    let second = run_with(&mut command);
    assert_eq!(first.count("computing square(3)"), 1);
    assert_eq!(second.count("computing square(3)"), 0);
    let default_dir = cwd.path().join(".memo_cache");
    assert_eq!(entry_files(&default_dir).len(), 1);
    assert!(default_dir.join(".gitignore").exists());
}

#[test]
fn set_default_refuses_once_a_default_is_in_place() {
    // Whatever happened before in this process, after one successful or
    // failed attempt a second one must be refused and handed back.
    let _ = memory::set_default(Memory::disabled());
    let refused = memory::set_default(Memory::new("elsewhere")).unwrap_err();
    assert_eq!(refused.location(), Some(std::path::Path::new("elsewhere")));
}

#[test]
fn an_unwritable_cache_still_returns_results_with_one_warning() {
    // Root ignores permission bits, so block writes structurally: the
    // function's directory is a regular file.
    let cache = cache_dir();
    run(WORKER, cache.path(), &["square", "1"]);
    std::fs::remove_dir_all(cache.path().join("worker.square")).unwrap();
    std::fs::write(cache.path().join("worker.square"), b"not a directory").unwrap();
    let mut command = std::process::Command::new(WORKER);
    command
        .env("MEMO_CACHE_DIR", cache.path())
        .args(["square", "2", "3", "4"]);
    let run = run_with(&mut command);
    assert_eq!(run.count("square(2) = 4"), 1);
    assert_eq!(run.count("square(3) = 9"), 1);
    assert_eq!(run.count("square(4) = 16"), 1);
    assert_eq!(
        run.stderr.matches("warning").count(),
        1,
        "reported once: {run:?}"
    );
    assert!(run.stderr.contains("cannot store results in"), "{run:?}");
}

#[test]
fn a_location_that_cannot_be_created_runs_uncached_with_one_warning() {
    let cache = cache_dir();
    let blocker = cache.path().join("a-file");
    std::fs::write(&blocker, b"").unwrap();
    let mut command = std::process::Command::new(WORKER);
    command
        .env("MEMO_CACHE_DIR", blocker.join("cache"))
        .args(["square", "2", "2"]);
    let run = run_with(&mut command);
    assert_eq!(
        run.count("computing square(2)"),
        2,
        "uncached: every call runs"
    );
    assert_eq!(run.count("square(2) = 4"), 2);
    assert_eq!(run.stderr.matches("warning").count(), 1, "{run:?}");
}
