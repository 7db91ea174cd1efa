//! A program caching in a shared S3 store, run as separate processes by
//! `tests/s3.rs`: `s3_worker COMMAND ARGS...`.
//!
//! The default Memory is `$MEMO_CACHE_DIR`, an `s3://bucket/prefix` URL
//! (endpoint and credentials from the usual `AWS_*` variables), with its
//! local tier in `$MEMO_LOCAL_TIER`. Bodies print `computing ...`, so a test
//! counts how often one really ran.
//!
//! - `square N...`: prints `square(N) = N²` for each.
//! - `ramp N`: a ramp of N `f64`s, stored through an `S3Store` built in
//!   code (multipart uploads from 1 MiB on) and mapped read-only from the
//!   local tier; prints `ramp ok` (or `ramp WRONG`) and `mapped true|false`.
//! - `stats`: prints `stats FUNCTION hits=H misses=M entries=E` per function.

use std::sync::LazyLock;

use memory::store::S3Store;
use memory::{Array, Memory, MmapMode};

#[memory::cache]
fn square(x: u64) -> u64 {
    println!("computing square({x})");
    x * x
}

static ARRAYS: LazyLock<Memory> = LazyLock::new(|| {
    let url = std::env::var("MEMO_CACHE_DIR").expect("MEMO_CACHE_DIR is an s3:// URL");
    let (bucket, prefix) = url
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .expect("s3://bucket/prefix");
    let store = S3Store::builder()
        .bucket(bucket)
        .prefix(prefix)
        .multipart_threshold(1 << 20)
        .build()
        .expect("an S3 store");
    let tier = std::env::var("MEMO_LOCAL_TIER").expect("MEMO_LOCAL_TIER is set");
    Memory::with_store(store)
        .local_tier(tier)
        .mmap_mode(MmapMode::ReadOnly)
});

#[memory::cache(memory = ARRAYS)]
fn ramp(n: usize) -> Array<f64> {
    println!("computing ramp({n})");
    (0..n).map(|i| i as f64).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers = || {
        args[1..]
            .iter()
            .map(|a| a.parse::<u64>().expect("a number"))
    };
    match args.first().map(String::as_str) {
        Some("square") => numbers().for_each(|x| println!("square({x}) = {}", square(x))),
        Some("ramp") => {
            let n = args[1].parse().expect("a length");
            let values = ramp(n);
            let ok = values.len() == n && values.iter().enumerate().all(|(i, &v)| v == i as f64);
            println!("{}", if ok { "ramp ok" } else { "ramp WRONG" });
            println!("mapped {}", values.is_mapped());
        }
        Some("stats") => {
            for function in memory::default_memory().stats().expect("stats") {
                println!(
                    "stats {} hits={} misses={} entries={}",
                    function.identity, function.hits, function.misses, function.entries
                );
            }
        }
        other => panic!("unknown command {other:?}"),
    }
}
