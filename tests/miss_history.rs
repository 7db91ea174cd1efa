//! Every miss is in the usage records with the kind of its reason, whatever
//! became of its result: several misses of one key — its first call, an
//! expiry, a refresh, an `Err` (not stored), another expiry — each in its
//! own process, all appear in `memo why`, and `memo stats --json` counts
//! them by reason exactly, though one entry is all that is stored.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use memo_tests::{Run, cache_dir, memo_cli, run_with};
use serde_json::Value;

const WORKER: &str = env!("CARGO_BIN_EXE_reasons_worker");

fn worker(cache: &Path, args: &[&str], fail: bool) -> Run {
    let mut command = Command::new(WORKER);
    command.env("MEMO_CACHE_DIR", cache).args(args);
    if fail {
        command.env("FAIL", "1");
    }
    run_with(&mut command)
}

fn memo_json(cache: &Path, args: &[&str]) -> Value {
    let run = run_with(
        Command::new(memo_cli())
            .arg("--location")
            .arg(cache)
            .arg("--json")
            .args(args),
    );
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"))
}

/// Past the function's one-second expiry.
fn let_it_expire() {
    std::thread::sleep(Duration::from_millis(1100));
}

#[test]
fn every_miss_of_a_key_is_counted_by_reason_and_listed() {
    let cache = cache_dir();
    let cache = cache.path();
    let first = worker(cache, &["call", "7"], false);
    assert_eq!(first.count("computing flaky(7)"), 1, "{first:?}");
    let_it_expire();
    let expired = worker(cache, &["call", "7"], false);
    assert_eq!(expired.count("computing flaky(7)"), 1, "{expired:?}");
    let refreshed = worker(cache, &["refresh", "7"], false);
    assert_eq!(refreshed.count("computing flaky(7)"), 1, "{refreshed:?}");
    let_it_expire();
    let failed = worker(cache, &["call", "7"], true);
    assert_eq!(failed.count("computing flaky(7)"), 1, "{failed:?}");
    assert!(failed.stdout.contains("Err("), "{failed:?}");
    let again = worker(cache, &["call", "7"], false);
    assert_eq!(again.count("computing flaky(7)"), 1, "{again:?}");

    let stats = memo_json(cache, &["stats"]);
    let functions = stats["functions"].as_array().expect("functions");
    assert_eq!(functions.len(), 1, "{stats}");
    let flaky = &functions[0];
    assert_eq!(flaky["entries"], 1, "one entry is stored: {stats}");
    assert_eq!(flaky["misses"], 5, "{stats}");
    let expected = serde_json::json!({"first call": 1, "expired": 3, "refresh": 1});
    assert_eq!(flaky["misses_by_reason"], expected, "{stats}");
    assert_eq!(stats["total"]["misses_by_reason"], expected, "{stats}");

    let why = memo_json(cache, &["why", "flaky"]);
    assert_eq!(why["by_reason"], expected, "{why}");
    let recent = why["recent"].as_array().expect("recent misses");
    let column = |field: &str| -> Vec<Value> { recent.iter().map(|r| r[field].clone()).collect() };
    assert_eq!(
        column("kind"),
        ["expired", "expired", "refresh", "expired", "first call"],
        "newest first: {why}"
    );
    assert_eq!(column("stored"), [true, false, true, true, true], "{why}");
    // One key, so every row names its call; the newest row wrote the
    // stored entry and has its reason in full.
    assert!(column("call").iter().all(|c| c == "flaky(7)"), "{why}");
    let newest = recent[0]["reason"].as_str().expect("a reason");
    assert!(
        newest.starts_with("the stored entry expired (computed ") && newest.ends_with("1.0 s)"),
        "{why}"
    );
    assert_eq!(recent[2]["reason"], "refresh", "{why}");

    // The same as text, as the user reads it.
    let text = run_with(
        Command::new(memo_cli())
            .arg("--location")
            .arg(cache)
            .args(["why", "flaky"]),
    );
    assert!(
        text.stdout
            .contains("5 recorded (expired 3, first call 1, refresh 1)"),
        "{text:?}"
    );
    assert!(
        text.stdout.contains("expired (result not stored)"),
        "{text:?}"
    );
}
