struct Counter {
    start: u64,
}

impl Counter {
    #[memory::cache]
    fn by_ref(&self, x: u64) -> u64 {
        self.start + x
    }

    #[memory::cache]
    fn by_value(self) -> u64 {
        self.start
    }

    #[memory::cache]
    fn boxed(self: Box<Self>) -> u64 {
        self.start
    }
}

fn main() {
    let counter = Counter { start: 1 };
    let _ = counter.by_ref(2);
}
