#[memory::cache(ignore = "debug")]
fn not_a_list(x: u64, debug: bool) -> u64 {
    let _ = debug;
    x
}

#[memory::cache(ignore = [debug])]
fn bare_name(x: u64, debug: bool) -> u64 {
    let _ = debug;
    x
}

fn main() {}
