//! A program with cached functions, run as a real process by the behaviour
//! tests: `worker COMMAND ARGS...`, caching in `$MEMO_CACHE_DIR`.
//!
//! Every function body prints `computing ...` on stdout, so a test counts
//! how often a body really ran; results are printed as `name(args) = value`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

#[memory::cache]
fn square(x: u64) -> u64 {
    println!("computing square({x})");
    x * x
}

#[memory::cache(ignore = ["debug"])]
fn my_func(x: u64, debug: bool) -> u64 {
    println!("computing my_func({x}, {debug})");
    x + 1
}

/// Fails for odd numbers: an `Err` must never be cached.
#[memory::cache]
fn halve(x: u64) -> Result<u64, String> {
    println!("computing halve({x})");
    if x.is_multiple_of(2) {
        Ok(x / 2)
    } else {
        Err(format!("{x} is odd"))
    }
}

/// `None` is a value like any other: it is cached.
#[memory::cache]
fn find(needle: String, haystack: Vec<String>) -> Option<usize> {
    println!("computing find({needle})");
    haystack.iter().position(|s| *s == needle)
}

#[derive(Debug, Serialize, Deserialize)]
struct Summary {
    keys: usize,
    total: u64,
}

/// Takes a map: its key must not depend on iteration order.
#[memory::cache]
fn summarize(counts: HashMap<String, u64>) -> Summary {
    println!("computing summarize");
    Summary {
        keys: counts.len(),
        total: counts.values().sum(),
    }
}

/// Always traces its misses, whatever the `Memory`'s level.
#[memory::cache(verbose = 1)]
fn loud(x: u64) -> u64 {
    println!("computing loud({x})");
    x
}

fn main() {
    // `WORKER_VERBOSE=N` sets the default Memory's verbosity.
    if let Ok(level) = std::env::var("WORKER_VERBOSE") {
        let level = level.parse().expect("WORKER_VERBOSE is a number");
        memory::set_default(memory::Memory::from_env().verbose(level)).expect("no default yet");
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers = || {
        args[1..]
            .iter()
            .map(|a| a.parse::<u64>().expect("a number"))
    };
    match args.first().map(String::as_str) {
        Some("square") => numbers().for_each(|x| println!("square({x}) = {}", square(x))),
        Some("my_func") => {
            let debug = args[2] == "true";
            let x = args[1].parse().unwrap();
            println!("my_func({x}, {debug}) = {}", my_func(x, debug));
        }
        Some("halve") => numbers().for_each(|x| println!("halve({x}) = {:?}", halve(x))),
        Some("find") => {
            let haystack = vec!["a".to_owned(), "b".to_owned()];
            println!("find({}) = {:?}", args[1], find(args[1].clone(), haystack));
        }
        Some("summarize") => {
            // Insert in the order given: forward or reverse.
            let mut keys: Vec<u64> = (0..500).collect();
            if args[1] == "reverse" {
                keys.reverse();
            }
            let counts: HashMap<String, u64> =
                keys.into_iter().map(|k| (format!("key{k}"), k)).collect();
            println!("summarize = {:?}", summarize(counts));
        }
        Some("loud") => numbers().for_each(|x| println!("loud({x}) = {}", loud(x))),
        other => panic!("unknown command {other:?}"),
    }
}
