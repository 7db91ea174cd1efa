// joblib's "r+" and "w+" would write through the map into the cache.
#[memory::cache(mmap_mode = "r+")]
fn writable(n: usize) -> memory::Array<f64> {
    vec![0.0; n].into()
}

#[memory::cache(mmap_mode = "read")]
fn unknown(n: usize) -> memory::Array<f64> {
    vec![0.0; n].into()
}

fn main() {}
