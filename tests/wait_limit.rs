//! Waiting with a limit: a caller whose key is held by a process that hangs
//! (stopped with `SIGSTOP`, so its lock stays held) computes the result
//! itself once the limit passed, and says so once; without a limit it keeps
//! waiting. A refresh recomputes once and replaces the stored result;
//! callers meanwhile are served the stored one.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use memo_tests::{Run, cache_dir, run_with};

const WAITER: &str = env!("CARGO_BIN_EXE_waiter");

/// A process computing `function(x)` that holds its key for `hold_ms`,
/// returned once the body of `body(x)` started (the key is locked by then),
/// with the rest of its output (kept open: a closed pipe would kill it).
fn holder(
    cache: &std::path::Path,
    function: &str,
    body: &str,
    x: &str,
    hold_ms: &str,
) -> (Child, BufReader<ChildStdout>) {
    let mut child = Command::new(WAITER)
        .env("MEMO_CACHE_DIR", cache)
        .env("HOLD_MS", hold_ms)
        .args([function, x])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the holder");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .expect("the holder's first line");
    assert_eq!(line.trim(), format!("started {body}({x})"));
    (child, stdout)
}

fn call(cache: &std::path::Path, function: &str, x: &str, env: &[(&str, &str)]) -> (Run, Duration) {
    let started = Instant::now();
    let run = run_with(
        Command::new(WAITER)
            .env("MEMO_CACHE_DIR", cache)
            .envs(env.iter().copied())
            .args([function, x]),
    );
    (run, started.elapsed())
}

fn signal(child: &Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    // SAFETY: `kill` with a valid signal number has no memory effects.
    let sent = unsafe { libc::kill(pid, signal) };
    assert_eq!(sent, 0, "kill({pid}, {signal})");
}

/// Stops `child` and kills it when dropped, also if the test fails. Its
/// output stays open while it lives: a closed pipe would end it.
struct Stopped(
    Child,
    #[allow(dead_code, reason = "kept open, never read")] BufReader<ChildStdout>,
);

impl Stopped {
    fn new((child, stdout): (Child, BufReader<ChildStdout>)) -> Stopped {
        signal(&child, libc::SIGSTOP);
        Stopped(child, stdout)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn gave_up(run: &Run) -> usize {
    run.stderr.matches("computing it here too").count()
}

#[test]
fn a_waiting_caller_computes_itself_after_the_memorys_limit() {
    let cache = cache_dir();
    let _stopped = Stopped::new(holder(cache.path(), "limited", "limited", "7", "60000"));
    let (run, took) = call(cache.path(), "limited", "7", &[("WAIT_LIMIT_MS", "500")]);
    assert_eq!(run.count("computed limited(7)"), 1, "{run:?}");
    assert_eq!(gave_up(&run), 1, "said once: {run:?}");
    assert!(run.stderr.contains("500 ms"), "names its limit: {run:?}");
    assert!(
        took >= Duration::from_millis(500),
        "gave up early: {took:?}"
    );
}

#[test]
fn the_attributes_limit_applies_too() {
    let cache = cache_dir();
    let _stopped = Stopped::new(holder(
        cache.path(),
        "attributed",
        "attributed",
        "3",
        "60000",
    ));
    let (run, took) = call(cache.path(), "attributed", "3", &[]);
    assert_eq!(run.count("computed attributed(3)"), 1, "{run:?}");
    assert_eq!(gave_up(&run), 1, "{run:?}");
    assert!(
        took >= Duration::from_millis(500),
        "gave up early: {took:?}"
    );
}

#[test]
fn without_a_limit_a_caller_waits_for_the_holder() {
    let cache = cache_dir();
    let stopped = Stopped::new(holder(cache.path(), "limited", "limited", "5", "1000"));
    let mut waiting = Command::new(WAITER)
        .env("MEMO_CACHE_DIR", cache.path())
        .args(["limited", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the waiting caller");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        waiting.try_wait().expect("poll").is_none(),
        "a caller without a limit stopped waiting for a live holder"
    );
    // The holder resumes, stores its result; the waiting caller reads it.
    signal(&stopped.0, libc::SIGCONT);
    let output = waiting.wait_with_output().expect("the waiting caller ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(!stdout.contains("computed limited(5)"), "{stdout}");
    assert!(stdout.contains("limited(5) = "), "{stdout}");
}

#[test]
fn a_refresh_recomputes_once_and_replaces_the_stored_result() {
    let cache = cache_dir();
    let (first, _) = call(cache.path(), "limited", "9", &[]);
    assert_eq!(first.count("computed limited(9)"), 1);
    let value = |run: &str, name: &str| {
        run.lines()
            .find_map(|line| {
                line.strip_prefix(&format!("{name}(9) = "))
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| panic!("no value of {name}(9) in {run:?}"))
    };
    let (mut refresh, mut output) = holder(cache.path(), "refresh", "limited", "9", "1000");
    // `holder` returned once the refresh's body started, holding the key:
    // callers meanwhile are served the stored result, and compute nothing.
    let (meanwhile, _) = call(cache.path(), "limited", "9", &[]);
    assert_eq!(meanwhile.count("computed limited(9)"), 0, "{meanwhile:?}");
    assert_eq!(
        value(&meanwhile.stdout, "limited"),
        value(&first.stdout, "limited")
    );
    assert!(refresh.wait().expect("the refresh ends").success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut output, &mut rest).expect("the refresh's output");
    assert_eq!(rest.matches("computed limited(9)").count(), 1, "{rest}");
    let refreshed = value(&rest, "refresh");
    assert_ne!(refreshed, value(&first.stdout, "limited"), "it recomputed");
    let (after, _) = call(cache.path(), "limited", "9", &[]);
    assert_eq!(after.count("computed limited(9)"), 0, "{after:?}");
    assert_eq!(
        value(&after.stdout, "limited"),
        refreshed,
        "the refreshed result is stored"
    );
}
