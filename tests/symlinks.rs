//! A planted symlink never takes memo out of the cache directory: not to
//! read an entry from elsewhere, not to write one elsewhere.

use memo_tests::{cache_dir, entry_files, run};

const WORKER: &str = env!("CARGO_BIN_EXE_worker");

#[test]
fn a_symlinked_function_directory_is_not_written_through() {
    let cache = cache_dir();
    let outside = cache_dir();
    // A cache (memo uses no directory it did not make), then the link.
    run(WORKER, cache.path(), &["square", "1"]);
    std::fs::remove_dir_all(cache.path().join("worker.square")).unwrap();
    std::os::unix::fs::symlink(outside.path(), cache.path().join("worker.square")).unwrap();
    let run = run(WORKER, cache.path(), &["square", "3"]);
    assert_eq!(run.count("square(3) = 9"), 1);
    assert!(
        std::fs::read_dir(outside.path()).unwrap().next().is_none(),
        "wrote through the link"
    );
    // Reading and writing through the link both fail, each reported once.
    assert_eq!(run.stderr.matches("warning").count(), 2, "{run:?}");
    assert!(run.stderr.contains("symbolic links"), "{run:?}");
    let again = memo_tests::run(WORKER, cache.path(), &["square", "3"]);
    assert_eq!(again.count("square(3) = 9"), 1);
    assert!(
        std::fs::read_dir(outside.path()).unwrap().next().is_none(),
        "wrote through the link"
    );
}

#[test]
fn a_symlinked_entry_is_not_read_through() {
    let cache = cache_dir();
    run(WORKER, cache.path(), &["square", "4"]);
    let [entry] = entry_files(cache.path()).try_into().unwrap();
    // A valid entry for the very same call, planted elsewhere and linked in.
    let outside = cache_dir();
    let planted = outside.path().join("planted.memo");
    std::fs::rename(&entry, &planted).unwrap();
    std::os::unix::fs::symlink(&planted, &entry).unwrap();

    let next = run(WORKER, cache.path(), &["square", "4"]);
    assert_eq!(
        next.count("computing square(4)"),
        1,
        "the link was followed: {next:?}"
    );
    assert_eq!(next.count("square(4) = 16"), 1);
    assert!(!entry.is_symlink(), "the link is replaced by a real entry");
    assert!(planted.exists(), "the link's target is untouched");
}
