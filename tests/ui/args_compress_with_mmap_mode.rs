// A compressed array cannot be mapped: asking for both is a choice to make.
#[memory::cache(mmap_mode = "r", compress = 3)]
fn both(n: usize) -> memory::Array<f64> {
    vec![0.0; n].into()
}

fn main() {}
