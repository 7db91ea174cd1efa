// `expires_after` is checked at compile time, in the grammar `memo gc
// --age-limit` reads (memo-units): numbers with units, longer than zero.
#[memory::cache(expires_after = "30")]
fn no_unit(x: u64) -> u64 {
    x
}

#[memory::cache(expires_after = "3 fortnights")]
fn fortnights(x: u64) -> u64 {
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
