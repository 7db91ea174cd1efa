#[memory::cache]
fn evens(limit: u64) -> impl Iterator<Item = u64> {
    (0..limit).filter(|n| n % 2 == 0)
}

#[memory::cache]
fn labels(count: usize) -> Vec<impl std::fmt::Display> {
    vec![0; count]
}

fn main() {
    let _ = (evens(3).count(), labels(2));
}
