// `validate` takes a `fn(&memory::EntryInfo) -> bool`.
fn by_age(age: std::time::Duration) -> bool {
    age.as_secs() < 60
}

#[memory::cache(validate = by_age)]
fn square(x: u64) -> u64 {
    x * x
}

#[memory::cache(validate = no_such_function)]
fn cube(x: u64) -> u64 {
    x * x * x
}

fn main() {}
