//! Writes `$MEMO_COMPILE_FUNCTIONS` (default 200) functions into
//! `functions.rs`: cached with the `cached` feature, plain without.

use std::fmt::Write;

fn main() {
    println!("cargo:rerun-if-env-changed=MEMO_COMPILE_FUNCTIONS");
    let count: usize = std::env::var("MEMO_COMPILE_FUNCTIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let cached = std::env::var_os("CARGO_FEATURE_CACHED").is_some();
    let mut code = String::new();
    for i in 0..count {
        if cached {
            code.push_str("#[memory::cache]\n");
        }
        // Two arguments (one borrowed) and a heap output: a typical shape.
        let _ = writeln!(
            code,
            "pub fn f{i}(x: u64, s: &str) -> Vec<u64> {{ vec![x + s.len() as u64 + {i}] }}"
        );
    }
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("functions.rs"), code).expect("write functions.rs");
}
