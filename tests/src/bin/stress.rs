//! Many threads of one process calling a slow cached function on
//! overlapping keys, for the concurrency tests.
//!
//! `stress THREADS MILLIS KEYS` with `$MEMO_CACHE_DIR` and `$STRESS_LOG`:
//! every body run appends `computed KEY PID` to the log (one `write` with
//! `O_APPEND`, so lines of concurrent processes never mix); every result is
//! checked, and a wrong one exits with status 3.
//!
//! `stress hold KEY MILLIS` computes one key with a body that logs `start`
//! and `done` lines and sleeps MILLIS in between: the test kills it or
//! races it.

use std::io::Write;
use std::time::{Duration, Instant};

#[memory::cache]
fn work(key: u64) -> Vec<u64> {
    log(&format!("computed {key} {}", std::process::id()));
    std::thread::sleep(Duration::from_millis(20));
    expected(key)
}

#[memory::cache]
fn slow(key: u64, millis: u64) -> u64 {
    log(&format!("start {key} {}", std::process::id()));
    std::thread::sleep(Duration::from_millis(millis));
    log(&format!("done {key} {}", std::process::id()));
    key
}

fn expected(key: u64) -> Vec<u64> {
    (0..64).map(|i| key * 1_000 + i).collect()
}

fn log(line: &str) {
    let path = std::env::var("STRESS_LOG").expect("STRESS_LOG is set");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .expect("open the log");
    file.write_all(format!("{line}\n").as_bytes())
        .expect("append to the log");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| args[i].parse::<u64>().expect("a number");
    if args[0] == "hold" {
        println!("slow = {}", slow(number(1), number(2)));
        return;
    }
    let (threads, millis, keys) = (number(0), number(1), number(2));
    let deadline = Instant::now() + Duration::from_millis(millis);
    let workers: Vec<_> = (0..threads)
        .map(|thread| {
            std::thread::spawn(move || {
                // A small xorshift, seeded per process and thread.
                let mut state =
                    (u64::from(std::process::id()) << 16) ^ (thread + 1) ^ 0x9E37_79B9_7F4A_7C15;
                let mut calls = 0u64;
                while Instant::now() < deadline {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let key = state % keys;
                    if work(key) != expected(key) {
                        eprintln!("wrong result for key {key}");
                        std::process::exit(3);
                    }
                    calls += 1;
                }
                calls
            })
        })
        .collect();
    let calls: u64 = workers
        .into_iter()
        .map(|w| w.join().expect("a worker thread panicked"))
        .sum();
    println!("calls {calls}");
}
