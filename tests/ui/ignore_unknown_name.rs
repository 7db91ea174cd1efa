#[memory::cache(ignore = ["verbose"])]
fn my_func(x: u64, debug: bool) -> u64 {
    let _ = debug;
    x
}

#[memory::cache(ignore = ["x"])]
fn no_params() -> u64 {
    1
}

fn main() {}
