#[memory::cache(compress = 23)]
fn too_high(n: usize) -> Vec<u8> {
    vec![0; n]
}

#[memory::cache(compress = -8)]
fn too_low(n: usize) -> Vec<u8> {
    vec![0; n]
}

fn main() {}
