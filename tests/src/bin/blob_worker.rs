//! A program for the content-addressed blob tests (`blob_store` in a
//! directory, `s3_blobs` on a shared store), run as real processes
//! ("machines"): `blob_worker COMMAND ARGS...`, caching in
//! `$MEMO_CACHE_DIR` (a directory or an `s3://` URL, with its local tier
//! in `$MEMO_LOCAL_TIER`). Every array it gets back is checked (full
//! loads: each is read against its digest); bodies print `computing ...`.
//!
//! - `write SEED COUNT`: `produce` and `produce_again` on COUNT keys of
//!   its own whose outputs are one of three 2 MiB arrays shared by every
//!   process, twice over: so keys, functions and processes share blobs.
//! - `write-own SEED COUNT`: the same, with three arrays of its own (by
//!   SEED): blobs shared by its keys and functions only.
//! - `reduce ROUNDS [PAUSE_MS]`: keeps removing entries meanwhile (a limit
//!   of 4 entries, and clearing `produce`), PAUSE_MS apart.
//! - `same N`: `first(N)` and `second(N)`, two functions returning the
//!   same array of N `f64`s.
//! - `clear`: `Memory::clear`.
//!
//! Each prints `ok` when done.

use std::time::Duration;

use memory::manage::Limits;
use memory::{Array, Memory};

fn ramp(n: usize) -> Vec<f64> {
    (0..n).map(|i| i as f64 * 0.5).collect()
}

#[memory::cache]
fn first(n: usize) -> Array<f64> {
    println!("computing first({n})");
    ramp(n).into()
}

#[memory::cache]
fn second(n: usize) -> Array<f64> {
    println!("computing second({n})");
    ramp(n).into()
}

/// 2 MiB of `u64`: a blob of its own.
const LEN: usize = 1 << 18;

fn contents(which: u64) -> Vec<u64> {
    (0..LEN as u64).map(|j| j * 7 + which).collect()
}

#[memory::cache]
fn produce(key: u64, which: u64) -> Array<u64> {
    let _ = key;
    contents(which).into()
}

#[memory::cache]
fn produce_again(key: u64, which: u64) -> Array<u64> {
    let _ = key;
    contents(which).into()
}

/// Calls both producers on `count` keys of `seed`, twice over; the
/// outputs are one of three arrays, numbered from `first_array`.
fn write(seed: u64, count: u64, first_array: u64) {
    for round in 0..2 {
        for i in 0..count {
            let which = first_array + i % 3;
            let expected = contents(which);
            let key = seed * 1_000_000 + i;
            assert_eq!(produce(key, which).as_slice(), expected, "round {round}");
            assert_eq!(produce_again(key, which).as_slice(), expected);
        }
    }
}

fn memory() -> Memory {
    Memory::new(std::env::var("MEMO_CACHE_DIR").expect("MEMO_CACHE_DIR names the cache"))
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(2)
        .map(|a| a.parse().expect("a number"))
        .collect();
    match std::env::args().nth(1).as_deref() {
        Some("write") => write(args[0], args[1], 0),
        Some("write-own") => write(args[0], args[1], args[0] * 3),
        Some("reduce") => {
            let memory = memory();
            let pause = Duration::from_millis(args.get(1).copied().unwrap_or(0));
            for round in 0..args[0] {
                if round % 2 == 0 {
                    memory.reduce_size(Limits::new().items(4)).unwrap();
                } else {
                    memory::handle(|| produce(0, 0)).clear().unwrap();
                }
                std::thread::sleep(pause);
            }
        }
        Some("same") => {
            let n = usize::try_from(args[0]).expect("a length");
            let expected = ramp(n);
            assert_eq!(first(n).as_slice(), expected, "first");
            assert_eq!(second(n).as_slice(), expected, "second");
        }
        Some("clear") => memory().clear().unwrap(),
        other => panic!("unknown command {other:?}"),
    }
    println!("ok");
}
