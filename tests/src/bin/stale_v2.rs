//! Version 2 of `stale_v1`'s function: same identity, another body.

#[memory::cache(name = "stale::compute")]
fn compute(x: u64) -> u64 {
    println!("computing v2({x})");
    x + 2
}

fn main() {
    for arg in std::env::args().skip(1) {
        let x = arg.parse().expect("a number");
        println!("compute({x}) = {}", compute(x));
    }
}
