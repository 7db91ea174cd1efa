// Caching a function that returns `()` compiles, with a warning: a hit
// skips the body, so its effects happen once, ever. (Denied here to show it.)
#![deny(deprecated)]

#[memory::cache]
fn log_line(line: String) {
    println!("{line}");
}

#[memory::cache]
fn explicit_unit(x: u64) -> () {
    let _ = x;
}

// Silenced for one function.
#[memory::cache(allow(unit_output))]
fn touch(path: String) {
    let _ = path;
}

fn main() {}
