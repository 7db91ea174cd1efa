//! Stale code versions: entries of a function's old code are reclaimed on
//! their own (`Memory::gc_stale`, `Limits::stale`), keeping the version its
//! programs use now.

use memo_tests::{cache_dir, entry_files, run};
use memory::Memory;
use memory::manage::Limits;

const V1: &str = env!("CARGO_BIN_EXE_stale_v1");
const V2: &str = env!("CARGO_BIN_EXE_stale_v2");

fn versions(cache: &std::path::Path) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(cache.join("stale.compute"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    found
}

#[test]
fn gc_stale_keeps_only_the_version_programs_use_now() {
    let cache = cache_dir();
    run(V1, cache.path(), &["1", "2", "3"]);
    let v2 = run(V2, cache.path(), &["1"]);
    assert_eq!(
        v2.count("computing v2(1)"),
        1,
        "another code version misses"
    );
    assert_eq!(versions(cache.path()).len(), 2);

    let report = Memory::new(cache.path()).gc_stale().unwrap();
    assert_eq!(report.stale.entries, 3, "{report:?}");
    assert_eq!(report.functions.len(), 1);
    assert_eq!(report.functions[0].versions.len(), 1);
    assert_eq!(
        versions(cache.path()).len(),
        1,
        "the stale version's directory goes"
    );
    assert_eq!(entry_files(cache.path()).len(), 1);

    // The current version still hits; the old code recomputes (and becomes
    // the current one again).
    assert_eq!(run(V2, cache.path(), &["1"]).count("computing v2(1)"), 0);
    assert_eq!(run(V1, cache.path(), &["1"]).count("computing v1(1)"), 1);
    let report = Memory::new(cache.path()).gc_stale().unwrap();
    assert_eq!(report.stale.entries, 1);
    assert_eq!(run(V1, cache.path(), &["1"]).count("computing v1(1)"), 0);
}

#[test]
fn without_a_note_the_most_recently_used_version_is_current() {
    let cache = cache_dir();
    run(V2, cache.path(), &["1", "2"]);
    std::thread::sleep(std::time::Duration::from_millis(5));
    run(V1, cache.path(), &["1"]);
    std::fs::remove_file(cache.path().join("stale.compute/.current")).unwrap();
    let report = Memory::new(cache.path())
        .reduce_size(Limits::new().stale(true))
        .unwrap();
    assert_eq!(report.stale.entries, 2, "{report:?}");
    assert_eq!(run(V1, cache.path(), &["1"]).count("computing v1(1)"), 0);
}

#[test]
fn stale_versions_are_not_touched_without_being_asked_for() {
    let cache = cache_dir();
    run(V1, cache.path(), &["1"]);
    run(V2, cache.path(), &["1"]);
    let report = Memory::new(cache.path())
        .reduce_size(Limits::new().items(10))
        .unwrap();
    assert_eq!(report.removed.entries, 0);
    assert_eq!(versions(cache.path()).len(), 2);
}
