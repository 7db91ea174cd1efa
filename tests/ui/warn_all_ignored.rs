// A function whose every parameter is ignored has one result for all calls.
// (Denied here to show the warning.)
#![deny(deprecated)]

#[memory::cache(ignore = ["verbose"])]
fn dataset(verbose: bool) -> Vec<u64> {
    let _ = verbose;
    vec![1, 2, 3]
}

#[derive(serde::Serialize)]
struct Loader;

impl Loader {
    #[memory::cache(ignore = ["self"])]
    fn load(&self) -> Vec<u64> {
        vec![4]
    }
}

// No parameter at all: computed once, on purpose. No warning.
#[memory::cache]
fn constants() -> Vec<u64> {
    vec![5]
}

// A type parameter still keys it. No warning.
#[memory::cache(ignore = ["verbose"])]
fn size_of<T>(verbose: bool) -> usize {
    let _ = verbose;
    std::mem::size_of::<T>()
}

#[memory::cache(ignore = ["verbose"], allow(all_ignored))]
fn silenced(verbose: bool) -> u64 {
    let _ = verbose;
    1
}

fn main() {}
