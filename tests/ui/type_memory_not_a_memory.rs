static NOT_A_MEMORY: u32 = 3;

#[memory::cache(memory = NOT_A_MEMORY)]
fn square(x: u64) -> u64 {
    x * x
}

fn main() {}
