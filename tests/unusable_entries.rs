//! A stored entry that is found but not used (it no longer decodes as the
//! caller's type, or a validation callback rejects it) is recomputed like
//! any miss: once for all concurrent callers, under the key's lock, and
//! checked once per call.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, LazyLock};
use std::time::Duration;
use std::time::Instant;

use memo_tests::{cache_dir, entry_files, process_cache_dir};
use memory::entry::{Entry, EntryMeta};
use memory::{EntryInfo, Memory};

/// Replaces the one entry under `dir` by one with the same key, output
/// type and metadata whose output does not decode as that type: what a
/// type changed under the same name leaves behind.
fn make_undecodable(dir: &Path) {
    let files = entry_files(dir);
    assert_eq!(files.len(), 1, "one entry: {files:?}");
    let bytes = std::fs::read(&files[0]).unwrap();
    let entry = Entry::parse(&bytes, None).expect("a valid entry");
    let meta: EntryMeta = entry.meta().unwrap();
    let stale = memory::entry::encode(entry.key(), entry.type_hash(), &meta, "not a number")
        .expect("encodes");
    let temporary = files[0].with_extension("stale");
    std::fs::write(&temporary, stale).unwrap();
    std::fs::rename(&temporary, &files[0]).unwrap();
}

/// Runs `call` on `threads` threads released together; each must finish
/// within a minute, so a hang fails the test instead of stalling it.
fn race<T: Send + 'static>(threads: usize, call: fn() -> T) -> Vec<T> {
    let start = Arc::new(Barrier::new(threads));
    let (sender, receiver) = std::sync::mpsc::channel();
    for _ in 0..threads {
        let start = Arc::clone(&start);
        let sender = sender.clone();
        std::thread::spawn(move || {
            start.wait();
            sender.send(call()).unwrap();
        });
    }
    (0..threads)
        .map(|_| {
            receiver
                .recv_timeout(Duration::from_secs(60))
                .expect("every caller returns within a minute")
        })
        .collect()
}

static STALE_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static STALE: LazyLock<Memory> = LazyLock::new(|| Memory::new(STALE_DIR.as_path()));
static STALE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = STALE)]
fn slow_square(x: u64) -> u64 {
    STALE_RUNS.fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(300));
    x * x
}

#[test]
fn concurrent_callers_on_an_undecodable_entry_compute_once() {
    assert_eq!(slow_square(7), 49);
    assert_eq!(STALE_RUNS.load(Ordering::SeqCst), 1);
    make_undecodable(STALE_DIR.as_path());

    let results = race(8, || slow_square(7));
    assert_eq!(results, vec![49; 8]);
    assert_eq!(
        STALE_RUNS.load(Ordering::SeqCst),
        2,
        "8 callers of an entry that no longer decodes: the body runs once"
    );
    // The recomputed entry replaced the stale one: a plain call hits.
    assert_eq!(slow_square(7), 49);
    assert_eq!(STALE_RUNS.load(Ordering::SeqCst), 2);
    assert_eq!(entry_files(STALE_DIR.as_path()).len(), 1);
}

static REJECTED_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static REJECTED: LazyLock<Memory> = LazyLock::new(|| Memory::new(REJECTED_DIR.as_path()));
static VALIDATIONS: AtomicUsize = AtomicUsize::new(0);
static REJECTED_RUNS: AtomicUsize = AtomicUsize::new(0);

fn reject(_: &EntryInfo) -> bool {
    VALIDATIONS.fetch_add(1, Ordering::SeqCst);
    false
}

#[memory::cache(memory = REJECTED, validate = reject)]
fn never_trusted(x: u64) -> u64 {
    REJECTED_RUNS.fetch_add(1, Ordering::SeqCst);
    x + 1
}

#[test]
fn a_rejecting_validation_callback_runs_once_per_call() {
    assert_eq!(never_trusted(1), 2);
    assert_eq!(VALIDATIONS.load(Ordering::SeqCst), 0, "nothing stored yet");
    for call in 1..=3 {
        assert_eq!(never_trusted(1), 2);
        assert_eq!(
            VALIDATIONS.load(Ordering::SeqCst),
            call,
            "one rejected entry, one callback run per call"
        );
        assert_eq!(REJECTED_RUNS.load(Ordering::SeqCst), call + 1);
    }
}

const STRESS: &str = env!("CARGO_BIN_EXE_stress");

/// `stress hold 5 300` in `cache`: computes `slow(5, 300)`, logging a
/// `start` line to `log` each time its body runs.
fn hold(cache: &Path, log: &Path) -> Child {
    Command::new(STRESS)
        .env("MEMO_CACHE_DIR", cache)
        .env("STRESS_LOG", log)
        .args(["hold", "5", "300"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a stress process")
}

/// Waits for `child` to succeed, failing the test after a minute.
fn succeeds(mut child: Child) -> String {
    let started = Instant::now();
    while child.try_wait().expect("poll the child").is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("a caller was still running after a minute");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

fn body_runs(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.starts_with("start 5 "))
        .count()
}

#[test]
fn concurrent_processes_on_an_undecodable_entry_compute_once() {
    let cache = cache_dir();
    let log = cache.path().join("side-effects.log");
    assert_eq!(succeeds(hold(cache.path(), &log)), "slow = 5\n");
    assert_eq!(body_runs(&log), 1);
    make_undecodable(cache.path());

    let callers: Vec<Child> = (0..8).map(|_| hold(cache.path(), &log)).collect();
    for caller in callers {
        assert_eq!(succeeds(caller), "slow = 5\n");
    }
    assert_eq!(
        body_runs(&log),
        2,
        "8 processes on an entry that no longer decodes: the body runs once"
    );
}
