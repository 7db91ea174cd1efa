//! A cached function with an explicit identity, before a refactoring moved
//! it (see `renamed_after.rs` and `tests/collisions.rs`).

mod pipeline {
    #[memory::cache(name = "pipeline::step")]
    pub fn step(x: u64) -> u64 {
        println!("computing step({x})");
        x * 3
    }
}

fn main() {
    println!("step(4) = {}", pipeline::step(4));
}
