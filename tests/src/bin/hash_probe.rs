//! Prints the digest of a `HashMap<String, u64>` of 1000 entries, inserted
//! in the order given as the only argument (`forward` or `reverse`).
//!
//! `tests/hashing.rs` runs it twice: each process has its own `RandomState`,
//! so the map iterates in a different order every time, yet the digest must
//! not change. The test builds the same map (see `probe_map` there) and
//! compares with its own digest too.

use std::collections::HashMap;

fn main() {
    let order = std::env::args().nth(1).unwrap_or_default();
    let mut keys: Vec<u64> = (0..1000).collect();
    match order.as_str() {
        "forward" => {}
        "reverse" => keys.reverse(),
        other => {
            eprintln!("usage: hash_probe forward|reverse (got {other:?})");
            std::process::exit(2);
        }
    }
    let mut map = HashMap::new();
    for i in keys {
        map.insert(format!("key-{i}"), i * i);
    }
    match memory::hash::digest(&map) {
        Ok(digest) => println!("{digest:032x}"),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
