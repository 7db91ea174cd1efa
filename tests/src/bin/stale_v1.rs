//! Version 1 of a function whose code changes: `stale_v2` has the same
//! identity and another body, so the two leave two code versions.

#[memory::cache(name = "stale::compute")]
fn compute(x: u64) -> u64 {
    println!("computing v1({x})");
    x + 1
}

fn main() {
    for arg in std::env::args().skip(1) {
        let x = arg.parse().expect("a number");
        println!("compute({x}) = {}", compute(x));
    }
}
