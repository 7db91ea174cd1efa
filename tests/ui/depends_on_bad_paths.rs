// `depends_on` names free functions, without generic arguments.
#[memory::fingerprint]
fn helper<T: Default>() -> T {
    T::default()
}

struct S;

impl S {
    #[memory::cache(depends_on = [Self::scale])]
    fn compute(x: u64) -> u64 {
        x
    }

    #[memory::cache(depends_on = [helper::<u64>])]
    fn other(x: u64) -> u64 {
        x + helper::<u64>()
    }
}

#[memory::cache(depends_on = helper)]
fn not_a_list(x: u64) -> u64 {
    x
}

fn main() {}
