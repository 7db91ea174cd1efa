//! What a process records about its hits is bounded by the entries it
//! touches, not by its calls, and the counts stay exact.

use std::path::Path;
use std::time::Instant;

use memo_tests::{cache_dir, run};
use memory::manage::{Cache, NoProgress};

const WORKER: &str = env!("CARGO_BIN_EXE_manage_worker");

/// Bytes in the cache's usage logs.
fn log_bytes(cache: &Path) -> u64 {
    std::fs::read_dir(cache.join(".usage"))
        .unwrap()
        .flatten()
        .filter(|f| f.file_name().to_string_lossy().ends_with(".log"))
        .map(|f| f.metadata().unwrap().len())
        .sum()
}

/// (hits, misses) of the one function in the cache, as `memo stats` counts them.
fn counts(cache: &Path) -> (u64, u64) {
    let cache = Cache::open(cache).unwrap();
    let scan = cache.scan(&NoProgress).unwrap();
    let usage = cache.usage().unwrap();
    let stats = cache.functions(&scan, &usage);
    assert_eq!(stats.len(), 1, "{stats:?}");
    (stats[0].hits, stats[0].misses)
}

#[test]
fn many_hits_of_one_key_leave_a_small_log_and_exact_counts() {
    for calls in [1_000u64, 100_000] {
        let cache = cache_dir();
        let started = Instant::now();
        let done = run(WORKER, cache.path(), &["repeat", &calls.to_string(), "7"]);
        let seconds = started.elapsed().as_secs();
        assert_eq!(
            done.stdout.matches("computing square(7)").count(),
            1,
            "{done:?}"
        );
        // The magic, the miss, and at most a record of hits per flush
        // (once a second, and at exit) — whatever the number of calls.
        let bound = 8 + 40 * (2 + 2 * (seconds + 1));
        let bytes = log_bytes(cache.path());
        assert!(
            bytes <= bound,
            "{calls} calls left {bytes} bytes of logs (bound {bound})"
        );
        assert_eq!(counts(cache.path()), (calls - 1, 1), "{calls} calls");
    }
}
