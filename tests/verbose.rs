//! joblib's trace, on stderr: `[Memory] Calling ...` on a miss at verbose ≥ 1,
//! a `Loading ...` line on a hit at verbose ≥ 2, nothing at 0.

use memo_tests::{cache_dir, run_with};

const WORKER: &str = env!("CARGO_BIN_EXE_worker");

fn worker(cache: &std::path::Path, verbose: &str, args: &[&str]) -> memo_tests::Run {
    let mut command = std::process::Command::new(WORKER);
    command
        .env("MEMO_CACHE_DIR", cache)
        .env("WORKER_VERBOSE", verbose)
        .args(args);
    run_with(&mut command)
}

#[test]
fn a_miss_at_verbose_1_prints_joblibs_block() {
    let cache = cache_dir();
    let run = worker(cache.path(), "1", &["square", "3"]);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 5, "{run:?}");
    assert_eq!(lines[0], "_".repeat(80));
    assert_eq!(lines[1], "[Memory] Calling worker::square...");
    assert_eq!(lines[2], "square(3)");
    assert_eq!(lines[3], "[Memory] Reason: first call of the function");
    assert!(
        lines[4].starts_with("____") && lines[4].ends_with("square - 0.0s, 0.0min"),
        "{}",
        lines[4]
    );
    assert_eq!(lines[4].len(), 80);
    assert!(
        !run.stdout.contains("[Memory]"),
        "the trace belongs on stderr"
    );
}

#[test]
fn a_hit_is_silent_at_verbose_1_and_reported_at_verbose_2() {
    let cache = cache_dir();
    worker(cache.path(), "0", &["square", "3"]);
    assert_eq!(worker(cache.path(), "1", &["square", "3"]).stderr, "");
    let loud = worker(cache.path(), "2", &["square", "3"]);
    assert_eq!(loud.stderr.lines().count(), 1, "{loud:?}");
    assert!(
        loud.stderr.starts_with("[Memory] Loading square..."),
        "{loud:?}"
    );
}

#[test]
fn verbose_0_prints_nothing() {
    let cache = cache_dir();
    assert_eq!(worker(cache.path(), "0", &["square", "3"]).stderr, "");
}

#[test]
fn the_functions_own_level_overrides_the_memorys() {
    let cache = cache_dir();
    let run = worker(cache.path(), "0", &["loud", "3"]);
    assert!(
        run.stderr.contains("[Memory] Calling worker::loud..."),
        "{run:?}"
    );
}

fn worker_with_env(cache: &std::path::Path, memo_verbose: &str) -> memo_tests::Run {
    let mut command = std::process::Command::new(WORKER);
    command
        .env("MEMO_CACHE_DIR", cache)
        .env("MEMO_VERBOSE", memo_verbose)
        .env_remove("WORKER_VERBOSE")
        .args(["square", "3"]);
    run_with(&mut command)
}

#[test]
fn memo_verbose_sets_the_default_memorys_level_without_recompiling() {
    let cache = cache_dir();
    let miss = worker_with_env(cache.path(), "1");
    assert!(
        miss.stderr.contains("[Memory] Calling worker::square..."),
        "{miss:?}"
    );
    let hit = worker_with_env(cache.path(), "2");
    assert!(
        hit.stderr.starts_with("[Memory] Loading square..."),
        "{hit:?}"
    );
    assert_eq!(worker_with_env(cache.path(), "0").stderr, "");
}

#[test]
fn a_memo_verbose_that_is_not_a_level_is_said_and_ignored() {
    let cache = cache_dir();
    let run = worker_with_env(cache.path(), "loud");
    assert!(
        run.stderr
            .contains("MEMO_VERBOSE=\"loud\" is not a verbosity level (0 to 255); using 0"),
        "{run:?}"
    );
    assert!(!run.stderr.contains("Calling"), "{run:?}");
    assert!(run.stdout.contains("square(3) = 9"), "{run:?}");
}
