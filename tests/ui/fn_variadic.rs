#[memory::cache]
unsafe extern "C" fn sum(count: usize, _rest: ...) -> usize {
    count
}

fn main() {}
