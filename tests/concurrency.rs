//! Compute once: concurrent callers of one key — threads of one process and
//! separate processes — run its body once; the others wait and read the
//! result. A lock holder killed with SIGKILL blocks nobody for good, and
//! callers of different keys never wait on each other.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use memo_tests::cache_dir;

const STRESS: &str = env!("CARGO_BIN_EXE_stress");

fn stress(cache: &Path, log: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(STRESS);
    command
        .env("MEMO_CACHE_DIR", cache)
        .env("STRESS_LOG", log)
        .args(args);
    command
}

fn log_lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Waits for `child`, failing the test if it takes longer than `limit`.
fn wait_within(mut child: Child, limit: Duration) -> std::process::Output {
    let started = Instant::now();
    while child.try_wait().expect("poll the child").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("a caller was still blocked after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child
        .wait_with_output()
        .expect("collect the child's output")
}

#[test]
fn eight_processes_of_eight_threads_compute_each_key_exactly_once() {
    let cache = cache_dir();
    let log = cache.path().join("side-effects.log");
    let processes: Vec<Child> = (0..8)
        .map(|_| {
            stress(cache.path(), &log, &["8", "2500", "64"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a stress process")
        })
        .collect();
    let mut calls = 0;
    for process in processes {
        let output = wait_within(process, Duration::from_secs(120));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "a stress process failed ({}): {stderr}",
            output.status
        );
        assert!(stderr.is_empty(), "unexpected warnings: {stderr}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        calls += stdout
            .trim()
            .strip_prefix("calls ")
            .unwrap()
            .parse::<u64>()
            .unwrap();
    }
    let mut computed: HashMap<u64, usize> = HashMap::new();
    for line in log_lines(&log) {
        let key = line.split(' ').nth(1).unwrap().parse().unwrap();
        *computed.entry(key).or_default() += 1;
    }
    let twice: Vec<_> = computed.iter().filter(|(_, runs)| **runs > 1).collect();
    assert!(twice.is_empty(), "keys computed more than once: {twice:?}");
    assert_eq!(computed.len(), 64, "every key was called and computed once");
    assert!(
        calls > 64 * 4,
        "the processes overlapped on keys ({calls} calls)"
    );
}

#[test]
fn a_killed_lock_holder_blocks_nobody() {
    let cache = cache_dir();
    let log = cache.path().join("side-effects.log");
    let mut holder = stress(cache.path(), &log, &["hold", "7", "60000"])
        .spawn()
        .unwrap();
    // Wait until it holds the lock (its body has started), then kill -9 it.
    let started = Instant::now();
    while !log_lines(&log).iter().any(|l| l.starts_with("start 7 ")) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the holder never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    holder.kill().unwrap();
    holder.wait().unwrap();

    let next = stress(cache.path(), &log, &["hold", "7", "10"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let output = wait_within(next, Duration::from_secs(30));
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), "slow = 7\n");
    let starts = log_lines(&log)
        .iter()
        .filter(|l| l.starts_with("start 7 "))
        .count();
    assert_eq!(
        starts, 2,
        "the second caller computed the key the killed one never stored"
    );
}

#[test]
fn callers_of_different_keys_do_not_wait_on_each_other() {
    let cache = cache_dir();
    let log = cache.path().join("side-effects.log");
    let slow = stress(cache.path(), &log, &["hold", "1", "3000"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !log_lines(&log).iter().any(|l| l.starts_with("start 1 ")) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the slow caller never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let fast = stress(cache.path(), &log, &["hold", "2", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_within(fast, Duration::from_secs(30));
    wait_within(slow, Duration::from_secs(30));
    let lines = log_lines(&log);
    let position = |prefix: &str| lines.iter().position(|l| l.starts_with(prefix)).unwrap();
    assert!(
        position("done 2 ") < position("done 1 "),
        "key 2 waited for key 1: {lines:?}"
    );
}
