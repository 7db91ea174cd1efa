//! A program for the content-addressed blob tests (`blob_store`), run as a
//! real process: `blob_worker COMMAND ARGS...`, caching in
//! `$MEMO_CACHE_DIR` (full loads: every array read is checked against its
//! digest).
//!
//! `write SEED COUNT` calls `produce` and `produce_again` on COUNT keys of
//! its own whose outputs are one of three 2 MiB arrays, so keys, functions
//! and processes share blobs, and checks every value it gets back (a miss
//! or a hit). `reduce ROUNDS` keeps removing entries (limits, clear of one
//! function) meanwhile. Each prints `ok` when done.

use memory::Array;
use memory::manage::Limits;

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

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(2)
        .map(|a| a.parse().expect("a number"))
        .collect();
    match std::env::args().nth(1).as_deref() {
        Some("write") => {
            let (seed, count) = (args[0], args[1]);
            for round in 0..2 {
                for i in 0..count {
                    let which = i % 3;
                    let expected = contents(which);
                    let key = seed * 1_000_000 + i;
                    assert_eq!(produce(key, which).as_slice(), expected, "round {round}");
                    assert_eq!(produce_again(key, which).as_slice(), expected);
                }
            }
        }
        Some("reduce") => {
            let memory = memory::Memory::new(std::env::var("MEMO_CACHE_DIR").unwrap());
            for round in 0..args[0] {
                if round % 2 == 0 {
                    memory.reduce_size(Limits::new().items(4)).unwrap();
                } else {
                    memory::handle(|| produce(0, 0)).clear().unwrap();
                }
            }
        }
        other => panic!("unknown command {other:?}"),
    }
    println!("ok");
}
