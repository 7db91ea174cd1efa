struct Opaque;

#[memory::cache]
fn make(x: u64) -> Opaque {
    let _ = x;
    Opaque
}

fn main() {}
