// `self` can only be ignored by a method.
#[memory::cache(ignore = ["self"])]
fn free(x: u64) -> u64 {
    x
}

struct S;

impl S {
    #[memory::cache(ignore = ["self"])]
    fn associated(x: u64) -> u64 {
        x
    }
}

fn main() {}
