// `#[fingerprint]` stacked on `#[cache(..)]` reads the cached function's
// arguments too (its `depends_on` counts for the exported fingerprint): an
// error in them is reported once, at the offending token, not dropped.
#[memory::fingerprint]
#[memory::cache(depends_on = helper)]
fn stacked(x: u64) -> u64 {
    x
}

fn main() {}
