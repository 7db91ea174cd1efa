// A dependency must export its fingerprint with `#[memory::fingerprint]`:
// the error is at its name in the list.
fn normalize(x: f64) -> f64 {
    x / 100.0
}

#[memory::cache(depends_on = [normalize])]
fn score(x: f64) -> f64 {
    normalize(x) * 2.0
}

fn main() {}
