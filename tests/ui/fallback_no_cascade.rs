// After an attribute error the function is still emitted as written, so its
// callers compile and the attribute's error is the only one.
#[memory::cache(ignore = ["debugg"])]
fn my_func(x: u64, debug: bool) -> u64 {
    if debug {
        println!("{x}");
    }
    x
}

fn main() {
    let y: u64 = my_func(1, false);
    let _ = y + my_func(2, true);
}
