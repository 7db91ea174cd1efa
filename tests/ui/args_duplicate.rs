#[memory::cache(verbose = 1, name = "a", verbose = 2, name = "b")]
fn twice(x: u64) -> u64 {
    x
}

fn main() {}
