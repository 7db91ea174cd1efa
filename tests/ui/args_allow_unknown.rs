// `allow(..)` names the attribute's own warnings.
#[memory::cache(allow(unit_output, dead_code))]
fn log(x: u64) {
    println!("{x}");
}

fn main() {}
