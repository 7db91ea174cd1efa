//! A program caching in a shared S3 store, run as separate processes by
//! `tests/s3_lease.rs` and `tests/s3_read_only.rs`: `s3_lease_worker
//! COMMAND ARGS...`.
//!
//! Its Memory is `$MEMO_CACHE_DIR` (an `s3://bucket/prefix` URL) with the
//! local tier `$MEMO_LOCAL_TIER`, built in code with
//! `lease_time($S3_LEASE_WORKER_LEASE_MS ms)` and
//! `store_read_only(true)` when `$S3_LEASE_WORKER_READ_ONLY` is set
//! (`$MEMO_STORE_READ_ONLY` works on it too, as on any Memory). Bodies
//! print `computing ...` before they start, so a test sees when one runs.
//!
//! - `slow KEY MS`: `slow(KEY)` takes MS milliseconds; prints `slow(KEY) = KEY²`.
//! - `square N...`: prints `square(N) = N²` for each.
//! - `clear`: `Memory::clear`, then prints `cleared`.
//! - `gc`: `Memory::reduce_size` to no entries, then prints `reduced N`.

use std::sync::LazyLock;
use std::time::Duration;

use memory::Memory;
use memory::manage::Limits;

static SHARED: LazyLock<Memory> = LazyLock::new(|| {
    let url = std::env::var("MEMO_CACHE_DIR").expect("MEMO_CACHE_DIR is an s3:// URL");
    let tier = std::env::var("MEMO_LOCAL_TIER").expect("MEMO_LOCAL_TIER is set");
    let mut memory = Memory::new(url).local_tier(tier);
    if let Ok(ms) = std::env::var("S3_LEASE_WORKER_LEASE_MS") {
        memory = memory.lease_time(Duration::from_millis(ms.parse().expect("milliseconds")));
    }
    if std::env::var_os("S3_LEASE_WORKER_READ_ONLY").is_some() {
        memory = memory.store_read_only(true);
    }
    memory
});

#[memory::cache(memory = SHARED, ignore = ["ms"])]
fn slow(key: u64, ms: u64) -> u64 {
    println!("computing slow({key})");
    std::thread::sleep(Duration::from_millis(ms));
    key * key
}

#[memory::cache(memory = SHARED)]
fn square(x: u64) -> u64 {
    println!("computing square({x})");
    x * x
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| -> u64 { args[i].parse().expect("a number") };
    match args.first().map(String::as_str) {
        Some("slow") => println!("slow({}) = {}", number(1), slow(number(1), number(2))),
        Some("square") => {
            for i in 1..args.len() {
                println!("square({}) = {}", number(i), square(number(i)));
            }
        }
        Some("clear") => {
            SHARED.clear().expect("clear");
            println!("cleared");
        }
        Some("gc") => {
            let report = SHARED
                .reduce_size(Limits::new().items(0))
                .expect("reduce_size");
            println!("reduced {}", report.removed.entries);
        }
        other => panic!("unknown command {other:?}"),
    }
}
