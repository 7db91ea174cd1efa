// A `&mut` parameter that is part of the key is refused, wherever the `&mut`
// sits in its type.
#[memory::cache]
fn fill(buffer: &mut Vec<u8>, n: usize) -> usize {
    buffer.resize(n, 0);
    n
}

#[memory::cache]
fn pairs(items: Option<&mut Vec<u8>>) -> usize {
    items.map_or(0, |items| items.len())
}

#[memory::cache]
fn destructured((count, log): (u64, &mut Vec<String>)) -> u64 {
    log.push(count.to_string());
    count
}

fn main() {}
