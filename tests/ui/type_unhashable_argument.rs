struct Opaque;

#[memory::cache]
fn size(x: u64, opaque: Opaque) -> u64 {
    let _ = opaque;
    x
}

fn main() {}
