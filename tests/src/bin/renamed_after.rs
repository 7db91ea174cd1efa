//! The same function as in `renamed_before.rs`, moved to another module
//! (and another program): its explicit identity keeps its results.

mod stages {
    pub mod third {
        #[memory::cache(name = "pipeline::step")]
        pub fn step(x: u64) -> u64 {
            println!("computing step({x})");
            x * 3
        }
    }
}

fn main() {
    println!("step(4) = {}", stages::third::step(4));
}
