//! Results persist across processes: a second process hits what the first
//! wrote, and reruns only calls it has not seen.

use memo_tests::{cache_dir, entry_files, run, walk};

const WORKER: &str = env!("CARGO_BIN_EXE_worker");

#[test]
fn a_second_process_hits_what_the_first_wrote() {
    let cache = cache_dir();
    let first = run(WORKER, cache.path(), &["square", "1", "2"]);
    assert_eq!(first.count("computing square(1)"), 1);
    assert_eq!(first.count("computing square(2)"), 1);

    let second = run(WORKER, cache.path(), &["square", "1", "2", "3"]);
    assert_eq!(second.count("computing square(1)"), 0, "{second:?}");
    assert_eq!(second.count("computing square(2)"), 0, "{second:?}");
    assert_eq!(second.count("computing square(3)"), 1, "{second:?}");
    assert_eq!(second.count("square(1) = 1"), 1);
    assert_eq!(second.count("square(2) = 4"), 1);
    assert_eq!(second.count("square(3) = 9"), 1);
}

#[test]
fn entries_live_under_function_and_code_version_directories() {
    let cache = cache_dir();
    run(WORKER, cache.path(), &["square", "1", "2"]);
    let entries = entry_files(cache.path());
    assert_eq!(entries.len(), 2, "{entries:?}");
    for entry in &entries {
        let relative = entry.strip_prefix(cache.path()).unwrap();
        let parts: Vec<_> = relative
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        assert_eq!(parts.len(), 3, "{relative:?}");
        assert_eq!(parts[0], "worker.square");
        assert_eq!(parts[1].len(), 16, "code version: 16 hex digits");
        assert_eq!(parts[2].len(), 32 + ".memo".len(), "key: 32 hex digits");
    }
    let gitignore = std::fs::read_to_string(cache.path().join(".gitignore")).unwrap();
    assert!(gitignore.lines().any(|l| l == "*"), "{gitignore}");
    // Nothing half-written is left behind.
    let leftovers: Vec<_> = walk(cache.path())
        .into_iter()
        .filter(|p| p.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn map_arguments_hit_whatever_their_insertion_order_in_another_process() {
    let cache = cache_dir();
    let forward = run(WORKER, cache.path(), &["summarize", "forward"]);
    assert_eq!(forward.count("computing summarize"), 1);
    let reverse = run(WORKER, cache.path(), &["summarize", "reverse"]);
    assert_eq!(reverse.count("computing summarize"), 0, "{reverse:?}");
    assert_eq!(forward.stdout.lines().last(), reverse.stdout.lines().last());
}
