//! A program caching arrays, for the array tests that need a fresh process:
//! `arrays ramp N` computes (or loads, fully, with checksums) a ramp of N
//! `f64`s and prints `ramp ok` if every element is right.

use memory::Array;

#[memory::cache]
fn ramp(n: usize) -> Array<f64> {
    println!("computing ramp({n})");
    (0..n).map(|i| i as f64).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args[1].parse().expect("a length");
    let values = ramp(n);
    let ok = values.len() == n && values.iter().enumerate().all(|(i, &v)| v == i as f64);
    println!("{}", if ok { "ramp ok" } else { "ramp WRONG" });
}
