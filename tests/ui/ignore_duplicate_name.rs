#[memory::cache(ignore = ["debug", "x", "debug"])]
fn my_func(x: u64, debug: bool, y: u64) -> u64 {
    let _ = debug;
    x + y
}

fn main() {}
