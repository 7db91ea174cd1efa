// `#[memory::fingerprint]` on a method records it (no error); on a cached
// method it is refused: a trait impl could not hold the exported
// fingerprint, and a cached method is recorded without it.
struct S;

impl S {
    #[memory::fingerprint]
    fn helper(&self) -> u64 {
        1
    }

    #[memory::cache]
    #[memory::fingerprint]
    fn cached(x: u64) -> Self {
        let _ = x;
        S
    }
}

#[memory::cache]
#[memory::fingerprint(version = "2")]
fn with_arguments(x: u64) -> u64 {
    x
}

fn main() {}
