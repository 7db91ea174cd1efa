#[memory::cache(name = "")]
fn anonymous(x: u64) -> u64 {
    x
}

fn main() {}
