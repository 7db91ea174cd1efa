// Two cached functions of one identity in one scope: a compile error at
// each `name = "..."`. (In different scopes, the registry reports them at
// the first call of one of them and keeps their results apart.)
#[memory::cache(name = "model::train")]
fn train_v1(epochs: u32) -> f64 {
    f64::from(epochs)
}

#[memory::cache(name = "model::train")]
fn train_v2(epochs: u32) -> f64 {
    f64::from(epochs) * 2.0
}

struct Trainer;

impl Trainer {
    #[memory::cache(name = "trainer::fit")]
    fn fit_fast(epochs: u32) -> u32 {
        epochs
    }

    #[memory::cache(name = "trainer::fit")]
    fn fit_slow(epochs: u32) -> u32 {
        epochs * 2
    }
}

fn main() {}
