// A `&mut` parameter in `ignore` compiles, with a warning: its changes
// happen on a miss only. (Denied here to show it.)
#![deny(deprecated)]

#[memory::cache(ignore = ["log"])]
fn checked(x: u64, log: &mut Vec<String>) -> u64 {
    log.push(format!("checked {x}"));
    x
}

#[derive(serde::Serialize)]
struct Counter {
    calls: u64,
}

impl Counter {
    #[memory::cache(ignore = ["self"])]
    fn double(&mut self, x: u64) -> u64 {
        self.calls += 1;
        x * 2
    }
}

#[memory::cache(ignore = ["scratch"], allow(mut_argument))]
fn silenced(x: u64, scratch: &mut Vec<u8>) -> u64 {
    scratch.clear();
    x
}

fn main() {}
