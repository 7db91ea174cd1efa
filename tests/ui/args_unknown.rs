#[memory::cache(skip = ["debug"])]
fn report(x: u64, debug: bool) -> u64 {
    let _ = debug;
    x
}

fn main() {
    let _ = report(1, true);
}
