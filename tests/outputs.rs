//! What is stored: `Ok` values but never `Err`, `None` like any value, and
//! joblib's per-entry metadata (duration, time, the call as written).

use memo_tests::{cache_dir, entry_files, run};
use memory::entry::Entry;

const WORKER: &str = env!("CARGO_BIN_EXE_worker");

#[test]
fn err_is_never_cached_ok_is() {
    let cache = cache_dir();
    for _ in 0..2 {
        let odd = run(WORKER, cache.path(), &["halve", "3"]);
        assert_eq!(
            odd.count("computing halve(3)"),
            1,
            "an Err must run again: {odd:?}"
        );
        assert_eq!(odd.count(r#"halve(3) = Err("3 is odd")"#), 1);
    }
    assert!(entry_files(cache.path()).is_empty(), "an Err left an entry");
    let first = run(WORKER, cache.path(), &["halve", "4"]);
    let second = run(WORKER, cache.path(), &["halve", "4"]);
    assert_eq!(first.count("computing halve(4)"), 1);
    assert_eq!(second.count("computing halve(4)"), 0);
    assert_eq!(second.count("halve(4) = Ok(2)"), 1);
}

#[test]
fn none_is_a_value() {
    let cache = cache_dir();
    let first = run(WORKER, cache.path(), &["find", "z"]);
    let second = run(WORKER, cache.path(), &["find", "z"]);
    assert_eq!(first.count("computing find(z)"), 1);
    assert_eq!(second.count("computing find(z)"), 0, "{second:?}");
    assert_eq!(second.count("find(z) = None"), 1);
}

#[test]
fn entries_record_the_call_its_duration_and_time() {
    let cache = cache_dir();
    let before = now_ms();
    run(WORKER, cache.path(), &["find", "b"]);
    let after = now_ms();
    let [path] = entry_files(cache.path()).try_into().expect("one entry");
    let bytes = std::fs::read(path).unwrap();
    let entry = Entry::parse(&bytes, None).expect("a valid entry");
    let meta = entry.meta().unwrap();
    assert_eq!(meta.identity, "worker::find");
    assert_eq!(meta.call, r#"find("b", ["a", "b"])"#);
    assert_eq!(
        meta.args
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>(),
        ["needle", "haystack"]
    );
    assert!(meta.args.iter().all(|a| a.digest.len() == 32));
    assert!(
        (before..=after).contains(&meta.created_ms),
        "{} not in {before}..={after}",
        meta.created_ms
    );
    assert!(meta.duration_s >= 0.0 && meta.duration_s < 60.0);
    assert_eq!(meta.output_type, "core::option::Option<usize>");
    assert_eq!(entry.output::<Option<usize>>().unwrap(), Some(1));
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}
