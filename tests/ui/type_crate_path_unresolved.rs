// A wrong `crate = path` is reported once, at the path.
#[memory::cache(crate = not_a_crate::memory)]
fn square(x: u64) -> u64 {
    x * x
}

fn main() {
    let _ = square(2);
}
