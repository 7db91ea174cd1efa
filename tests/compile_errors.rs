//! Every compile error `#[memory::cache]` can give, as trybuild UI cases in
//! `ui/`: each `.rs` must fail to compile with exactly its `.stderr`.
//!
//! Messages drift between compiler versions: regenerate with
//! `TRYBUILD=overwrite cargo test -p memo-tests --test compile_errors` on the
//! pinned toolchain, then read each `.stderr` to check its carets.

#[test]
fn compile_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
}
