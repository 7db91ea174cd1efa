//! Code changes: the key holds a fingerprint of the function's tokens, so a
//! comment or formatting edit keeps the cache, any real edit misses, and
//! reverting an edit finds the old results again.
//!
//! This builds real variants of a small crate with cargo, one after the
//! other in one directory, and runs each against one shared cache.

use memo_tests::FixtureCrate;

const ORIGINAL: &str = r#"
#[memory::cache]
fn work(x: u64) -> u64 {
    println!("computing work({x})");
    x * 2
}
"#;

/// The same tokens: new comments, a doc comment, other formatting.
const COMMENTS_AND_FORMATTING: &str = r#"
/// Doubles `x`, slowly.
#[memory::cache]
fn work(
    x: u64, // the input
) -> u64
{
    // Say what we do, then do it.
    println!( "computing work({x})" );
    /* the real work: */ x*2
}
"#;

/// A real edit.
const EDITED: &str = r#"
#[memory::cache]
fn work(x: u64) -> u64 {
    println!("computing work({x})");
    x * 3
}
"#;

/// The fixture program: `function` (the cached `work`) and a `main` that
/// says which variant it is and calls `work(x)`.
fn program(variant: &str, function: &str, x: u64) -> String {
    format!(
        "{function}\nfn main() {{\n    println!(\"variant {variant}\");\n    println!(\"work({x}) = {{}}\", work({x}));\n}}\n"
    )
}

#[test]
fn comments_keep_the_cache_edits_miss_and_reverts_hit_again() {
    let fixture = FixtureCrate::new("code-change-fixture");

    let first = fixture.build_and_run("original", &program("original", ORIGINAL, 21));
    assert_eq!(first.count("computing work(21)"), 1);
    assert_eq!(first.count("work(21) = 42"), 1);

    let commented = fixture.build_and_run(
        "comments",
        &program("comments", COMMENTS_AND_FORMATTING, 21),
    );
    assert_eq!(
        commented.count("computing work(21)"),
        0,
        "a comment-only edit missed: {commented:?}"
    );
    assert_eq!(commented.count("work(21) = 42"), 1);

    let edited = fixture.build_and_run("edited", &program("edited", EDITED, 21));
    assert_eq!(
        edited.count("computing work(21)"),
        1,
        "a real edit hit the old result: {edited:?}"
    );
    assert_eq!(edited.count("work(21) = 63"), 1);

    let reverted = fixture.build_and_run("reverted", &program("reverted", ORIGINAL, 21));
    assert_eq!(
        reverted.count("computing work(21)"),
        0,
        "a revert did not find the old result: {reverted:?}"
    );
    assert_eq!(reverted.count("work(21) = 42"), 1);

    let versions = std::fs::read_dir(fixture.cache.path().join("code_change_fixture.work"))
        .unwrap()
        .filter(|child| child.as_ref().unwrap().file_type().unwrap().is_dir())
        .count();
    assert_eq!(versions, 2, "one directory per code version");
}
