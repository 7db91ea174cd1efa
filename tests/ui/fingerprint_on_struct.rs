// `#[memory::fingerprint]` goes on a function, a `const` or a `static`.
#[memory::fingerprint]
struct Settings {
    scale: u64,
}

#[memory::fingerprint]
const SCALE: u64 = 3;

#[memory::fingerprint(depends_on = [SCALE])]
static LIMIT: u64 = 10;

fn main() {
    let _ = Settings { scale: SCALE + LIMIT };
}
