//! A program caching arrays, for the array tests that need a fresh process:
//! `arrays ramp N` computes (or loads) a ramp of N `f64`s and prints
//! `ramp ok` if every element is right, then `mapped true|false`.
//!
//! `$ARRAYS_MMAP` (`r` or `c`) and `$ARRAYS_COMPRESS` (a zstd level) set the
//! default Memory's options.

use memory::{Array, Memory, MmapMode};

#[memory::cache]
fn ramp(n: usize) -> Array<f64> {
    println!("computing ramp({n})");
    (0..n).map(|i| i as f64).collect()
}

fn main() {
    let mut memory = Memory::from_env();
    match std::env::var("ARRAYS_MMAP").as_deref() {
        Ok("r") => memory = memory.mmap_mode(MmapMode::ReadOnly),
        Ok("c") => memory = memory.mmap_mode(MmapMode::CopyOnWrite),
        _ => {}
    }
    if let Ok(level) = std::env::var("ARRAYS_COMPRESS") {
        memory = memory.compress(level.parse().expect("a zstd level"));
    }
    memory::set_default(memory).expect("the first Memory");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args[1].parse().expect("a length");
    let values = ramp(n);
    let ok = values.len() == n && values.iter().enumerate().all(|(i, &v)| v == i as f64);
    println!("{}", if ok { "ramp ok" } else { "ramp WRONG" });
    println!("mapped {}", values.is_mapped());
}
