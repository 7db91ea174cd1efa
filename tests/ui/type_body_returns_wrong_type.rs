// A body whose value has the wrong type: the error lands on that value (a
// body run in a block) or on the `return` (a body with one), not on the
// attribute.
#[memory::cache]
fn widen(x: u32) -> u64 {
    x
}

#[memory::cache]
fn early(x: u32) -> u64 {
    if x > 1 {
        return x;
    }
    1
}

fn main() {}
