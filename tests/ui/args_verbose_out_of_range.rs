#[memory::cache(verbose = 256)]
fn too_loud(x: u64) -> u64 {
    x
}

#[memory::cache(verbose = -1)]
fn negative(x: u64) -> u64 {
    x
}

#[memory::cache(verbose = 2i32)]
fn wrong_suffix(x: u64) -> u64 {
    x
}

fn main() {}
