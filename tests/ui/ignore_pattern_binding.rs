#[memory::cache(ignore = ["b"])]
fn first((a, b): (u64, u64), c: u64) -> u64 {
    let _ = b;
    a + c
}

fn main() {}
