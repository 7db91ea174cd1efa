//! A program for the wait-limit and refresh tests, run as a real process:
//! `waiter FUNCTION X`, caching in `$MEMO_CACHE_DIR`.
//!
//! Each body prints `started FUNCTION(X)` (flushed) when it begins, then
//! sleeps `$HOLD_MS` milliseconds (none if unset), then prints
//! `computed FUNCTION(X)`; the result is printed as `FUNCTION(X) = VALUE`.
//! A test stops a process while it holds a key (`SIGSTOP` after `started`)
//! and checks what a second caller does. `$WAIT_LIMIT_MS` sets the wait
//! limit of the `Memory` that `limited` caches in; `attributed` has its own
//! `wait_limit = "500ms"`. `refresh` refreshes `limited(X)` through a
//! handle.

use std::io::Write;
use std::sync::LazyLock;
use std::time::Duration;

use memory::Memory;

static CACHE: LazyLock<Memory> = LazyLock::new(|| {
    let memory = Memory::from_env();
    match std::env::var("WAIT_LIMIT_MS") {
        Ok(ms) => memory.wait_limit(Duration::from_millis(ms.parse().expect("milliseconds"))),
        Err(_) => memory,
    }
});

/// Runs like a computation: says it started, maybe holds, says it ended.
fn work(name: &str, x: u64) -> u64 {
    println!("started {name}({x})");
    std::io::stdout().flush().unwrap();
    if let Ok(ms) = std::env::var("HOLD_MS") {
        std::thread::sleep(Duration::from_millis(ms.parse().expect("milliseconds")));
    }
    println!("computed {name}({x})");
    x + u64::from(std::process::id())
}

#[memory::cache(memory = CACHE)]
fn limited(x: u64) -> u64 {
    work("limited", x)
}

#[memory::cache(memory = CACHE, wait_limit = "500ms")]
fn attributed(x: u64) -> u64 {
    work("attributed", x)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let x: u64 = args[1].parse().expect("a number");
    let value = match args[0].as_str() {
        "limited" => limited(x),
        "attributed" => attributed(x),
        "refresh" => memory::handle(|| limited(x)).refresh(),
        other => panic!("unknown function {other}"),
    };
    println!("{}({x}) = {value}", args[0]);
}
