// A type error in the body lands on the user's code, not on the attribute.
#[memory::cache]
fn narrow(x: u64) -> u32 {
    let y: u32 = x;
    y
}

fn main() {}
