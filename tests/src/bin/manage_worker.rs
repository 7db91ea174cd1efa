//! A program for the cache-management tests (`limits`, `stats`, `stale`),
//! run as a real process: `manage_worker COMMAND ARGS...`, caching in
//! `$MEMO_CACHE_DIR`. Bodies print `computing ...` on stdout.
//!
//! `slow N...` sleeps 20 ms per computation, so the time hits save is
//! measurable; `square N...` is instant; `repeat N X` calls `square(X)` N
//! times in this one process and prints the last result.

use std::time::Duration;

#[memory::cache]
fn slow(x: u64) -> u64 {
    println!("computing slow({x})");
    std::thread::sleep(Duration::from_millis(20));
    x * 10
}

#[memory::cache]
fn square(x: u64) -> u64 {
    println!("computing square({x})");
    x * x
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers = args[1..]
        .iter()
        .map(|a| a.parse::<u64>().expect("a number"));
    match args.first().map(String::as_str) {
        Some("slow") => numbers.for_each(|x| println!("slow({x}) = {}", slow(x))),
        Some("square") => numbers.for_each(|x| println!("square({x}) = {}", square(x))),
        Some("repeat") => {
            let mut numbers = numbers;
            let (times, x) = (numbers.next().unwrap(), numbers.next().unwrap());
            let last = (0..times).fold(None, |_, _| Some(square(x)));
            println!("square({x}) = {last:?} ({times} calls)");
        }
        other => panic!("unknown command {other:?}"),
    }
}
