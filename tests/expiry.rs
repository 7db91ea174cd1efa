//! Expiry: an entry older than `expires_after`, or rejected by a validation
//! callback (joblib's `cache_validation_callback`), is recomputed and
//! replaced, never served.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use memo_tests::{entry_files, process_cache_dir};
use memory::{EntryInfo, Memory};

static EXPIRING_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static EXPIRING: LazyLock<Memory> =
    LazyLock::new(|| Memory::new(EXPIRING_DIR.as_path()).expires_after(Duration::from_millis(300)));
static EXPIRING_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = EXPIRING)]
fn expiring(x: u64) -> u64 {
    EXPIRING_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn an_expired_entry_is_recomputed_and_replaced() {
    assert_eq!(expiring(1), 1);
    assert_eq!(expiring(1), 1);
    assert_eq!(EXPIRING_RUNS.load(Ordering::SeqCst), 1, "fresh: served");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(expiring(1), 1);
    assert_eq!(
        EXPIRING_RUNS.load(Ordering::SeqCst),
        2,
        "expired: recomputed"
    );
    assert_eq!(expiring(1), 1);
    assert_eq!(
        EXPIRING_RUNS.load(Ordering::SeqCst),
        2,
        "the new entry is served"
    );
    assert_eq!(
        entry_files(EXPIRING_DIR.as_path()).len(),
        1,
        "replaced, not added"
    );
}

static ACCEPT: AtomicBool = AtomicBool::new(true);
static SEEN_CALL: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

fn accept(entry: &EntryInfo) -> bool {
    *SEEN_CALL.lock().unwrap() = entry.call.clone();
    ACCEPT.load(Ordering::SeqCst)
}

static VALIDATED_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static VALIDATED: LazyLock<Memory> =
    LazyLock::new(|| Memory::new(VALIDATED_DIR.as_path()).cache_validation(accept));
static VALIDATED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = VALIDATED)]
fn validated(x: u64, label: &str) -> String {
    VALIDATED_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{label}{x}")
}

#[test]
fn a_validation_callback_sees_the_entry_and_can_reject_it() {
    validated(7, "a");
    validated(7, "a");
    assert_eq!(VALIDATED_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(*SEEN_CALL.lock().unwrap(), r#"validated(7, "a")"#);
    ACCEPT.store(false, Ordering::SeqCst);
    assert_eq!(validated(7, "a"), "a7");
    assert_eq!(validated(7, "a"), "a7");
    assert_eq!(
        VALIDATED_RUNS.load(Ordering::SeqCst),
        3,
        "rejected: never served"
    );
    ACCEPT.store(true, Ordering::SeqCst);
    validated(7, "a");
    assert_eq!(VALIDATED_RUNS.load(Ordering::SeqCst), 3);
}

static HELPER_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static HELPER: LazyLock<Memory> = LazyLock::new(|| {
    Memory::new(HELPER_DIR.as_path())
        .cache_validation(memory::manage::expires_after(Duration::from_millis(300)))
});
static HELPER_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = HELPER)]
fn with_helper(x: u64) -> u64 {
    HELPER_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn the_expires_after_helper_works_as_a_validation_callback() {
    with_helper(1);
    with_helper(1);
    assert_eq!(HELPER_RUNS.load(Ordering::SeqCst), 1);
    std::thread::sleep(Duration::from_millis(400));
    with_helper(1);
    assert_eq!(HELPER_RUNS.load(Ordering::SeqCst), 2);
}

static SLOW_ONLY_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static SLOW_ONLY: LazyLock<Memory> = LazyLock::new(|| {
    // joblib's example: keep only results that took long to compute.
    Memory::new(SLOW_ONLY_DIR.as_path())
        .cache_validation(|e| e.duration > Duration::from_millis(50))
});
static SLOW_ONLY_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = SLOW_ONLY)]
fn sometimes_slow(millis: u64) -> u64 {
    SLOW_ONLY_RUNS.fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(millis));
    millis
}

#[test]
fn a_closure_can_keep_only_slow_results() {
    sometimes_slow(0);
    sometimes_slow(0);
    assert_eq!(
        SLOW_ONLY_RUNS.load(Ordering::SeqCst),
        2,
        "fast results are not served"
    );
    sometimes_slow(80);
    sometimes_slow(80);
    assert_eq!(SLOW_ONLY_RUNS.load(Ordering::SeqCst), 3, "slow ones are");
}

static PER_FUNCTION_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static PER_FUNCTION: LazyLock<Memory> = LazyLock::new(|| Memory::new(PER_FUNCTION_DIR.as_path()));
static SHORT_RUNS: AtomicUsize = AtomicUsize::new(0);
static PLAIN_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = PER_FUNCTION, expires_after = "1s")]
fn short_lived(x: u64) -> u64 {
    SHORT_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[memory::cache(memory = PER_FUNCTION)]
fn long_lived(x: u64) -> u64 {
    PLAIN_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn a_functions_own_expires_after_applies_to_it_alone() {
    short_lived(1);
    long_lived(1);
    short_lived(1);
    long_lived(1);
    assert_eq!(SHORT_RUNS.load(Ordering::SeqCst), 1);
    std::thread::sleep(Duration::from_millis(1200));
    short_lived(1);
    long_lived(1);
    assert_eq!(SHORT_RUNS.load(Ordering::SeqCst), 2, "expired");
    assert_eq!(
        PLAIN_RUNS.load(Ordering::SeqCst),
        1,
        "same Memory, no expiry"
    );
}

static ODD_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Serves only entries whose call was made with an even argument.
fn even_calls_only(entry: &EntryInfo) -> bool {
    entry
        .call
        .trim_end_matches(')')
        .rsplit('(')
        .next()
        .and_then(|x| x.parse::<u64>().ok())
        .is_some_and(|x| x.is_multiple_of(2))
}

#[memory::cache(memory = PER_FUNCTION, validate = even_calls_only)]
fn checked(x: u64) -> u64 {
    ODD_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn a_functions_validate_callback_decides_for_its_entries() {
    checked(2);
    checked(2);
    assert_eq!(ODD_RUNS.load(Ordering::SeqCst), 1, "accepted: served");
    checked(3);
    checked(3);
    assert_eq!(
        ODD_RUNS.load(Ordering::SeqCst),
        3,
        "rejected: recomputed every time"
    );
}

// ---------------------- the attribute's own `expires_after = ".."` and `validate = ..`

/// A cache directory and a `Memory` in it, for one function below.
macro_rules! attribute_memory {
    ($dir:ident, $memory:ident) => {
        static $dir: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
        static $memory: LazyLock<Memory> = LazyLock::new(|| Memory::new($dir.as_path()));
    };
}

attribute_memory!(ATTRIBUTE_EXPIRING_DIR, ATTRIBUTE_EXPIRING);
static ATTRIBUTE_EXPIRING_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = ATTRIBUTE_EXPIRING, expires_after = "1s")]
fn expiring_by_attribute(x: u64) -> u64 {
    ATTRIBUTE_EXPIRING_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn expires_after_recomputes_older_results() {
    assert_eq!(expiring_by_attribute(1), 1);
    assert_eq!(expiring_by_attribute(1), 1);
    assert_eq!(
        ATTRIBUTE_EXPIRING_RUNS.load(Ordering::SeqCst),
        1,
        "fresh: loaded"
    );
    std::thread::sleep(Duration::from_millis(1_100));
    assert_eq!(expiring_by_attribute(1), 1);
    assert_eq!(
        ATTRIBUTE_EXPIRING_RUNS.load(Ordering::SeqCst),
        2,
        "older than 1s: recomputed"
    );
}

// `expires_after` reads the grammar of `memo gc --age-limit` (`memo-units`):
// weeks, fractions and milliseconds compile and apply.
attribute_memory!(WEEKS_DIR, WEEKS_CACHE);
static WEEKS_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = WEEKS_CACHE, expires_after = "2w")]
fn kept_two_weeks(x: u64) -> u64 {
    WEEKS_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn expires_after_takes_weeks() {
    assert_eq!(kept_two_weeks(1), 1);
    assert_eq!(kept_two_weeks(1), 1);
    assert_eq!(
        WEEKS_RUNS.load(Ordering::SeqCst),
        1,
        "younger than two weeks: loaded"
    );
}

attribute_memory!(MILLIS_DIR, MILLIS_CACHE);
static MILLIS_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = MILLIS_CACHE, expires_after = "0.25s")]
fn kept_a_quarter_second(x: u64) -> u64 {
    MILLIS_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn expires_after_takes_fractions_of_a_second() {
    assert_eq!(kept_a_quarter_second(1), 1);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(kept_a_quarter_second(1), 1);
    assert_eq!(
        MILLIS_RUNS.load(Ordering::SeqCst),
        2,
        "older than 0.25s: recomputed"
    );
}

attribute_memory!(ATTRIBUTE_VALIDATED_DIR, ATTRIBUTE_VALIDATED);
static ATTRIBUTE_VALIDATED_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Rejects the results of odd calls.
fn only_even(entry: &EntryInfo) -> bool {
    !entry.call.ends_with("1)") && !entry.call.ends_with("3)")
}

#[memory::cache(memory = ATTRIBUTE_VALIDATED, validate = only_even)]
fn validated_by_attribute(x: u64) -> u64 {
    ATTRIBUTE_VALIDATED_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn validate_recomputes_rejected_results() {
    assert_eq!(validated_by_attribute(2), 2);
    assert_eq!(validated_by_attribute(2), 2);
    assert_eq!(
        ATTRIBUTE_VALIDATED_RUNS.load(Ordering::SeqCst),
        1,
        "accepted: loaded"
    );
    assert_eq!(validated_by_attribute(3), 3);
    assert_eq!(validated_by_attribute(3), 3);
    assert_eq!(
        ATTRIBUTE_VALIDATED_RUNS.load(Ordering::SeqCst),
        3,
        "rejected: recomputed"
    );
}
