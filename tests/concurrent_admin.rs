//! Administration beside running programs is normal on a shared cache:
//! `memo clear` racing with writers succeeds, `memo verify` beside a gc
//! reports no entry the gc just removed, and automatic limits racing with
//! writers print no warning. Real processes throughout.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use memo_tests::{cache_dir, memo_cli, run};

const WORKER: &str = env!("CARGO_BIN_EXE_owner_worker");

fn writers(cache: &Path, command: &str, count: u64) -> Vec<Child> {
    (0..count)
        .map(|w| {
            Command::new(WORKER)
                .env("MEMO_CACHE_DIR", cache)
                .args([
                    command,
                    &(w * 100_000).to_string(),
                    &(w * 100_000 + 600).to_string(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect()
}

/// Waits for the writers; none may fail or warn.
fn assert_quiet(writers: Vec<Child>) {
    for writer in writers {
        let output = writer.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(!stderr.contains("warning"), "a writer warned: {stderr}");
    }
}

fn memo(cache: &Path, args: &[&str]) -> Output {
    Command::new(memo_cli())
        .args(["--location", cache.to_str().unwrap(), "--no-progress"])
        .args(args)
        .output()
        .unwrap()
}

fn running(writers: &mut [Child]) -> bool {
    writers.iter_mut().any(|w| w.try_wait().unwrap().is_none())
}

#[test]
fn clear_racing_with_writers_succeeds_every_time() {
    let cache = cache_dir();
    run(WORKER, cache.path(), &["square", "1"]);
    let mut started = writers(cache.path(), "fill", 2);
    let mut clears = 0;
    while running(&mut started) || clears < 3 {
        let output = memo(cache.path(), &["clear", "--yes"]);
        assert!(output.status.success(), "clear #{clears}: {output:?}");
        clears += 1;
    }
    assert_quiet(started);
}

#[test]
fn verify_beside_gc_reports_nothing_gc_removed() {
    let cache = cache_dir();
    run(WORKER, cache.path(), &["fill", "0", "3000"]);
    let mut gc = Command::new(memo_cli())
        .args([
            "--location",
            cache.path().to_str().unwrap(),
            "--no-progress",
        ])
        .args(["gc", "--items-limit", "0"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut rounds = 0;
    while gc.try_wait().unwrap().is_none() || rounds < 2 {
        let output = memo(cache.path(), &["verify"]);
        assert!(output.status.success(), "verify #{rounds}: {output:?}");
        rounds += 1;
    }
    assert!(gc.wait().unwrap().success());
}

#[test]
fn automatic_limits_racing_with_writers_print_no_warning() {
    let cache = cache_dir();
    run(WORKER, cache.path(), &["square", "1"]);
    let started = writers(cache.path(), "limited", 2);
    assert_quiet(started);
}
