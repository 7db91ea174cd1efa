//! joblib's Memory walk-through, in Rust: the first call computes, the
//! second call loads.
//!
//! ```text
//! cargo run -p memo-core --example demo
//! ```
//!
//! Like the original, it caches in a fresh temporary directory, so every run
//! starts empty; point `MEMO_DEMO_DIR` at a directory to keep the cache and
//! watch a second run load everything.

use memory::Memory;

#[memory::cache]
fn f(x: u64) -> u64 {
    println!("Running f({x})");
    x
}

/// numpy's `hamming(x)`.
#[memory::cache]
fn g(x: usize) -> Vec<f64> {
    println!("A long-running calculation, with parameter {x}");
    let step = std::f64::consts::TAU / (x.max(2) - 1) as f64;
    (0..x)
        .map(|n| 0.54 - 0.46 * (step * n as f64).cos())
        .collect()
}

/// numpy's `vander(x)`: row `i` is `x[i]^(n-1), ..., x[i]^0`.
#[memory::cache]
fn h(x: Vec<f64>) -> Vec<Vec<f64>> {
    println!("A second long-running calculation, using g(x)");
    let n = x.len() as i32;
    x.iter()
        .map(|v| (0..n).map(|j| v.powi(n - 1 - j)).collect())
        .collect()
}

#[memory::cache(ignore = ["debug"])]
fn my_func(x: u64, debug: bool) -> u64 {
    if debug {
        eprintln!("debugging my_func");
    }
    println!("Called with x = {x}");
    x
}

fn main() -> std::io::Result<()> {
    // `mkdtemp()` and `Memory(cachedir, verbose=0)`.
    let temporary = tempfile::tempdir()?;
    let cachedir =
        std::env::var_os("MEMO_DEMO_DIR").map_or_else(|| temporary.path().to_owned(), Into::into);
    memory::set_default(Memory::new(&cachedir)).expect("the first Memory of this process");
    println!("# caching in {}\n", cachedir.display());

    println!(">>> f(1)");
    println!("{}", f(1));
    println!(">>> f(1)");
    println!("{}", f(1));
    println!(">>> f(2)");
    println!("{}", f(2));

    println!("\n>>> a = g(3)");
    let a = g(3);
    println!("{}", show(&a));
    println!(">>> g(3)");
    println!("{}", show(&g(3)));
    println!(">>> b = h(a)");
    let b = h(a.clone());
    println!(">>> b2 = h(a)");
    let b2 = h(a);
    println!(
        "{}",
        b2.iter()
            .map(|row| show(row))
            .collect::<Vec<_>>()
            .join("\n")
    );
    println!(">>> b == b2\n{}", b == b2);

    println!("\n>>> my_func(0)");
    my_func(0, true);
    println!(">>> my_func(0, debug=false)");
    my_func(0, false);
    println!(">>> my_func(0, debug=true)");
    my_func(0, true);
    println!("# my_func was not reevaluated");
    Ok(())
}

/// numpy-style `[ 0.08  1.    0.08]`.
fn show(row: &[f64]) -> String {
    let cells: Vec<String> = row.iter().map(|v| format!("{v:.4}")).collect();
    format!("[{}]", cells.join(", "))
}
