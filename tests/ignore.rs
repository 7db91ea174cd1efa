//! `ignore = [...]`: ignored arguments do not take part in the key (the
//! seed's `my_func(x, debug)` example).

use memo_tests::{cache_dir, run};

const WORKER: &str = env!("CARGO_BIN_EXE_worker");

#[test]
fn an_ignored_argument_does_not_cause_a_recompute() {
    let cache = cache_dir();
    let first = run(WORKER, cache.path(), &["my_func", "0", "true"]);
    assert_eq!(first.count("computing my_func(0, true)"), 1);

    let flipped = run(WORKER, cache.path(), &["my_func", "0", "false"]);
    assert!(
        !flipped.stdout.contains("computing"),
        "debug is ignored: {flipped:?}"
    );
    assert_eq!(flipped.count("my_func(0, false) = 1"), 1);
}

#[test]
fn the_other_arguments_still_count() {
    let cache = cache_dir();
    run(WORKER, cache.path(), &["my_func", "0", "true"]);
    let other = run(WORKER, cache.path(), &["my_func", "1", "true"]);
    assert_eq!(other.count("computing my_func(1, true)"), 1);
}
