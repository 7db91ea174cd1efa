// A method that changes `self` cannot be cached: on a hit the body does not
// run, so the change would be lost. Every spelling of `&mut self` is refused.
use std::pin::Pin;

#[derive(serde::Serialize)]
struct Counter {
    count: u64,
}

impl Counter {
    #[memory::cache]
    fn bump(&mut self, by: u64) -> u64 {
        self.count += by;
        self.count
    }

    #[memory::cache]
    fn bump_typed(self: &mut Self) -> u64 {
        self.count += 1;
        self.count
    }

    #[memory::cache]
    fn bump_pinned(self: Pin<&mut Self>) -> u64 {
        self.count
    }

    // `&self` and `self` are fine.
    #[memory::cache]
    fn peek(&self) -> u64 {
        self.count
    }
}

fn main() {}
