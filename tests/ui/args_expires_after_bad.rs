// `expires_after` is checked at compile time: a number and a unit (s, m, h,
// d), longer than zero.
#[memory::cache(expires_after = "30")]
fn no_unit(x: u64) -> u64 {
    x
}

#[memory::cache(expires_after = "2w")]
fn weeks(x: u64) -> u64 {
    x
}

#[memory::cache(expires_after = "0s")]
fn zero(x: u64) -> u64 {
    x
}

#[memory::cache(expires_after = 30)]
fn not_a_string(x: u64) -> u64 {
    x
}

fn main() {}
