// `ignore_code` takes a bool literal; `wait_limit` a duration longer than
// zero, in memo's one grammar.
#[memory::cache(version = "2", ignore_code = "yes")]
fn quoted(x: u64) -> u64 {
    x
}

#[memory::cache(ignore_code = 1)]
fn number(x: u64) -> u64 {
    x
}

#[memory::cache(wait_limit = "0s")]
fn never_waits(x: u64) -> u64 {
    x
}

#[memory::cache(wait_limit = 10)]
fn no_unit(x: u64) -> u64 {
    x
}

fn main() {}
