//! A program for the shared-store blob tests (`tests/s3_blobs.rs`), run as
//! separate processes ("machines"): `s3_blob_worker COMMAND ARGS...`,
//! caching in `$MEMO_CACHE_DIR` (an `s3://` URL) with its local tier in
//! `$MEMO_LOCAL_TIER`. Every array it gets back is checked (full loads:
//! each is read against its digest); bodies print `computing ...`.
//!
//! - `same N`: `first(N)` and `second(N)`, two functions returning the
//!   same array of N `f64`s.
//! - `write SEED COUNT`: `produce` and `produce_again` on COUNT keys of its
//!   own whose outputs are one of three 2 MiB arrays of its own (by SEED),
//!   twice over: so functions and keys share blobs.
//! - `reduce ROUNDS`: keeps removing entries from the store meanwhile
//!   (a limit of 4 entries, and clearing `produce`, 0.3 s apart), each
//!   followed by a sweep of the store's blobs.
//! - `clear`: `Memory::clear` on the store.
//!
//! Each prints `ok` when done.

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
    (0..LEN as u64).map(|j| j * 11 + which).collect()
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

fn memory() -> Memory {
    Memory::new(std::env::var("MEMO_CACHE_DIR").expect("MEMO_CACHE_DIR is an s3:// URL"))
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(2)
        .map(|a| a.parse().expect("a number"))
        .collect();
    match std::env::args().nth(1).as_deref() {
        Some("same") => {
            let n = args[0] as usize;
            let expected = ramp(n);
            assert_eq!(first(n).as_slice(), expected, "first");
            assert_eq!(second(n).as_slice(), expected, "second");
        }
        Some("write") => {
            let (seed, count) = (args[0], args[1]);
            for round in 0..2 {
                for i in 0..count {
                    let which = seed * 3 + i % 3;
                    let expected = contents(which);
                    let key = seed * 1_000_000 + i;
                    assert_eq!(produce(key, which).as_slice(), expected, "round {round}");
                    assert_eq!(produce_again(key, which).as_slice(), expected);
                }
            }
        }
        Some("reduce") => {
            let memory = memory();
            for round in 0..args[0] {
                if round % 2 == 0 {
                    memory.reduce_size(Limits::new().items(4)).unwrap();
                } else {
                    memory::handle(|| produce(0, 0)).clear().unwrap();
                }
                std::thread::sleep(std::time::Duration::from_millis(300));
            }
        }
        Some("clear") => memory().clear().unwrap(),
        other => panic!("unknown command {other:?}"),
    }
    println!("ok");
}
