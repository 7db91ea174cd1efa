// Every problem is reported in one compile, each at its own token.
struct Client;

impl Client {
    #[memory::cache(ignore = ["nope"], name = "")]
    async fn several(&self, x: u64) -> impl Sized {
        x
    }

    // A malformed argument is reported with the function's own problems.
    #[memory::cache(verbose = 300)]
    const fn also_const(&self) -> u64 {
        1
    }
}

fn main() {}
