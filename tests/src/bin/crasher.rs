//! Writes entries in a loop until it is killed, for the crash tests.
//!
//! `crasher SEED` with `$MEMO_CACHE_DIR` computes `blob(key)` (128 KiB
//! each) for the eight keys `SEED * 8 ..`, over and over, checking every
//! result it gets — from the body or from the cache — and exiting with
//! status 3 on a wrong one. `crasher check SEEDS` checks every key of seeds
//! `0..SEEDS` through the cache.

#[memory::cache]
fn blob(key: u64) -> Vec<u64> {
    expected(key)
}

/// What `blob(key)` must return.
fn expected(key: u64) -> Vec<u64> {
    (0..16 * 1024)
        .map(|i| key.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i)
        .collect()
}

/// Keys per seed.
const KEYS_PER_SEED: u64 = 8;

fn check(key: u64) {
    if blob(key) != expected(key) {
        eprintln!("wrong result for key {key}");
        std::process::exit(3);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args[0] == "check" {
        let seeds: u64 = args[1].parse().expect("a seed count");
        (0..seeds * KEYS_PER_SEED).for_each(check);
        println!("checked {}", seeds * KEYS_PER_SEED);
        return;
    }
    let seed: u64 = args[0].parse().expect("a seed");
    for round in 0.. {
        check(seed * KEYS_PER_SEED + round % KEYS_PER_SEED);
    }
}
