//! What a hostile or damaged cache holds never hangs or aborts memo: FIFOs
//! where files should be, links to endless devices, sparse 100 GB files and
//! headers announcing more than memory holds are damaged entries (reported,
//! recomputed, replaced) or skipped bookkeeping. Every call runs under a
//! timeout, so a hang fails the test instead of stalling it.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use memo_tests::{Run, cache_dir, entry_files, run};
use memory::manage::{Cache, Limits, NoProgress, ReduceOptions};

const WORKER: &str = env!("CARGO_BIN_EXE_worker");
const ARRAYS: &str = env!("CARGO_BIN_EXE_arrays");

/// Longer than any of these calls takes, far shorter than a hang.
const TIMEOUT: Duration = Duration::from_secs(20);

/// 100 GiB: more than this machine's memory, held by a sparse file.
const HUGE: u64 = 100 << 30;

/// Runs `exe` against `cache` like [`run`], but kills it and fails the test
/// if it has not finished within [`TIMEOUT`].
fn run_bounded(exe: &str, cache: &Path, args: &[&str]) -> Run {
    let mut child = Command::new(exe)
        .env("MEMO_CACHE_DIR", cache)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > TIMEOUT {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            panic!(
                "{exe} {args:?} hung; killed after {TIMEOUT:?}\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let run = Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        output.status.success(),
        "{exe} {args:?} failed ({}): {run:#?}",
        output.status
    );
    run
}

/// Runs `f` on its own thread and fails the test if it has not returned
/// within [`TIMEOUT`] (the thread is left behind; the test process ends).
fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(f());
    });
    result
        .recv_timeout(TIMEOUT)
        .unwrap_or_else(|_| panic!("{what} hung (no answer within {TIMEOUT:?})"))
}

fn make_fifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c_path` is a valid NUL-terminated path that outlives the call.
    let made = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
    assert_eq!(made, 0, "mkfifo {}", path.display());
}

fn is_fifo(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

/// Stores `square(5)` and returns its entry file.
fn stored_square(cache: &Path) -> PathBuf {
    run(WORKER, cache, &["square", "5"]);
    entry_files(cache).pop().expect("an entry for square(5)")
}

/// `square(5)` is computed once more (the damaged entry is replaced) and
/// hit silently after that.
fn assert_recomputed_and_replaced(cache: &Path) {
    let again = run_bounded(WORKER, cache, &["square", "5"]);
    assert_eq!(again.count("computing square(5)"), 1, "{again:?}");
    assert_eq!(again.count("square(5) = 25"), 1, "{again:?}");
    let after = run_bounded(WORKER, cache, &["square", "5"]);
    assert_eq!(
        after.count("computing square(5)"),
        0,
        "not replaced: {after:?}"
    );
    assert_eq!(after.count("square(5) = 25"), 1, "{after:?}");
}

/// Administration reads everything there is to read, within the timeout.
fn assert_administration_finishes(cache: &Path) {
    let root = cache.to_path_buf();
    bounded(
        "opening, scanning, verifying and reducing the cache",
        move || {
            let cache = Cache::open(&root).expect("still a memo cache");
            let scan = cache.scan(&NoProgress).unwrap();
            let _ = cache.usage().unwrap();
            let _ = cache.verify(&scan, false, &NoProgress).unwrap();
            cache
                .reduce(
                    &Limits::new().items(100),
                    &ReduceOptions::default(),
                    &NoProgress,
                )
                .unwrap();
        },
    );
}

#[test]
fn a_fifo_entry_is_recomputed_and_replaced() {
    let cache = cache_dir();
    let entry = stored_square(cache.path());
    make_fifo(&entry);
    assert_recomputed_and_replaced(cache.path());
    assert!(!is_fifo(&entry));
}

#[test]
fn a_fifo_current_note_hangs_nothing() {
    let cache = cache_dir();
    let entry = stored_square(cache.path());
    let current = entry.parent().unwrap().parent().unwrap().join(".current");
    assert!(current.is_file(), "{} was written", current.display());
    make_fifo(&current);
    let again = run_bounded(WORKER, cache.path(), &["square", "5"]);
    assert_eq!(again.count("square(5) = 25"), 1, "{again:?}");
    assert_administration_finishes(cache.path());
}

#[test]
fn fifo_usage_logs_and_summary_hang_nothing() {
    let cache = cache_dir();
    stored_square(cache.path());
    let usage = cache.path().join(".usage");
    make_fifo(&usage.join("summary"));
    make_fifo(&usage.join("1-00000000000000ff.log"));
    let again = run_bounded(WORKER, cache.path(), &["square", "5"]);
    assert_eq!(again.count("square(5) = 25"), 1, "{again:?}");
    let root = cache.path().to_path_buf();
    let counts = bounded("reading usage", move || {
        let cache = Cache::open(&root).unwrap();
        let usage = cache.usage().unwrap();
        let scan = cache.scan(&NoProgress).unwrap();
        let stats = cache.functions(&scan, &usage);
        (stats[0].hits, stats[0].misses)
    });
    // The records in the real logs still count; the FIFOs are skipped.
    assert_eq!(counts, (1, 1));
    assert_administration_finishes(cache.path());
    assert!(
        is_fifo(&usage.join("1-00000000000000ff.log")),
        "a FIFO with a log's name is not memo's: never removed"
    );
}

#[test]
fn a_fifo_marker_hangs_no_administration() {
    let cache = cache_dir();
    stored_square(cache.path());
    make_fifo(&cache.path().join("CACHEDIR.TAG"));
    // A FIFO is no marker: the directory is refused at once, never read.
    assert_refused_at_once(cache.path());
    let again = run_bounded(WORKER, cache.path(), &["square", "5"]);
    assert_eq!(again.count("square(5) = 25"), 1, "{again:?}");
    assert!(
        is_fifo(&cache.path().join("CACHEDIR.TAG")),
        "left as it was"
    );
}

/// Opening the cache answers within the timeout, refusing it.
fn assert_refused_at_once(cache: &Path) {
    let root = cache.to_path_buf();
    let opened = bounded("opening the cache", move || Cache::open(&root).is_ok());
    assert!(
        !opened,
        "a marker that is not a regular file was taken as memo's"
    );
}

#[test]
fn a_marker_linked_to_dev_zero_is_not_followed() {
    let cache = cache_dir();
    stored_square(cache.path());
    let tag = cache.path().join("CACHEDIR.TAG");
    std::fs::remove_file(&tag).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &tag).unwrap();
    // A link is no marker: refused at once, never followed.
    assert_refused_at_once(cache.path());
    assert!(tag.is_symlink(), "left as it was");
}

#[test]
fn a_sparse_100_gb_entry_is_recomputed_and_replaced() {
    let cache = cache_dir();
    let entry = stored_square(cache.path());
    // A valid entry followed by 100 GB of holes.
    OpenOptions::new()
        .write(true)
        .open(&entry)
        .unwrap()
        .set_len(HUGE)
        .unwrap();
    assert_recomputed_and_replaced(cache.path());
    assert!(std::fs::metadata(&entry).unwrap().len() < 4096);

    // Nothing but holes.
    std::fs::remove_file(&entry).unwrap();
    let holes = std::fs::File::create(&entry).unwrap();
    holes.set_len(HUGE).unwrap();
    assert_recomputed_and_replaced(cache.path());
    assert_administration_finishes(cache.path());
}

/// Rewrites the payload length in an entry's header (bytes 16..24).
fn announce_payload(entry: &Path, payload_len: u64) {
    let mut bytes = std::fs::read(entry).unwrap();
    bytes[16..24].copy_from_slice(&payload_len.to_le_bytes());
    std::fs::write(entry, bytes).unwrap();
}

#[test]
fn a_header_announcing_100_gb_is_recomputed_and_replaced() {
    let cache = cache_dir();
    let entry = stored_square(cache.path());
    // In a small file: truncated.
    announce_payload(&entry, HUGE);
    assert_recomputed_and_replaced(cache.path());

    // In a sparse file that really is that long: more than memory holds.
    announce_payload(&entry, HUGE);
    OpenOptions::new()
        .write(true)
        .open(&entry)
        .unwrap()
        .set_len(HUGE + 4096)
        .unwrap();
    assert_recomputed_and_replaced(cache.path());
    assert_administration_finishes(cache.path());
}

#[test]
fn a_flipped_magic_in_a_huge_array_entry_reads_only_its_start() {
    let cache = cache_dir();
    let first = run(ARRAYS, cache.path(), &["ramp", "100000"]);
    assert_eq!(first.count("ramp ok"), 1, "{first:?}");
    let entry = entry_files(cache.path()).pop().unwrap();
    let mut bytes = std::fs::read(&entry).unwrap();
    bytes[1] ^= 0x01;
    std::fs::write(&entry, bytes).unwrap();
    // Grown to 100 GB: reading it whole would abort or never end.
    OpenOptions::new()
        .write(true)
        .open(&entry)
        .unwrap()
        .set_len(HUGE)
        .unwrap();
    let again = run_bounded(ARRAYS, cache.path(), &["ramp", "100000"]);
    assert_eq!(again.count("computing ramp(100000)"), 1, "{again:?}");
    assert_eq!(again.count("ramp ok"), 1, "{again:?}");
    let after = run_bounded(ARRAYS, cache.path(), &["ramp", "100000"]);
    assert_eq!(
        after.count("computing ramp(100000)"),
        0,
        "not replaced: {after:?}"
    );
    assert_eq!(after.count("ramp ok"), 1, "{after:?}");
}
