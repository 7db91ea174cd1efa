//! Code changes: the key holds a fingerprint of the function's tokens, so a
//! comment or formatting edit keeps the cache, any real edit misses, and
//! reverting an edit finds the old results again.
//!
//! This builds real variants of a small crate with cargo, one after the
//! other in one directory, and runs each against one shared cache.

use std::path::{Path, PathBuf};
use std::process::Command;

use memo_tests::{Run, cache_dir, run_with};

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

struct Fixture {
    dir: tempfile::TempDir,
    cache: tempfile::TempDir,
    target: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let dir = tempfile::Builder::new()
            .prefix("memo-code-change-")
            .tempdir()
            .unwrap();
        let manifest = include_str!("fixtures/code_change/Cargo.toml.in").replace(
            "@MEMO_CORE@",
            &workspace.join("memo-core").display().to_string(),
        );
        std::fs::write(dir.path().join("Cargo.toml"), manifest).unwrap();
        // The workspace's lock file pins the same dependency versions, so the
        // build needs no network and reuses what it built before.
        std::fs::copy(workspace.join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        Fixture {
            dir,
            cache: cache_dir(),
            target: workspace.join("target").join("code-change-fixture"),
        }
    }

    /// Builds the crate with `function` as its cached function and runs it
    /// on `x`; `variant` is printed by `main`, outside the cached function,
    /// to prove each run uses the binary just built.
    fn build_and_run(&self, variant: &str, function: &str, x: u64) -> Run {
        let main = format!(
            "{function}\nfn main() {{\n    println!(\"variant {variant}\");\n    println!(\"work({x}) = {{}}\", work({x}));\n}}\n"
        );
        std::fs::write(self.dir.path().join("src/main.rs"), main).unwrap();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let build = Command::new(cargo)
            .args(["build", "--quiet", "--offline", "--manifest-path"])
            .arg(self.dir.path().join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &self.target)
            .status()
            .expect("run cargo");
        assert!(build.success(), "building the {variant} variant failed");
        let exe = self.target.join("debug").join("code-change-fixture");
        let run = run_with(Command::new(exe).env("MEMO_CACHE_DIR", self.cache.path()));
        assert_eq!(
            run.count(&format!("variant {variant}")),
            1,
            "stale binary: {run:?}"
        );
        run
    }
}

#[test]
fn comments_keep_the_cache_edits_miss_and_reverts_hit_again() {
    let fixture = Fixture::new();

    let first = fixture.build_and_run("original", ORIGINAL, 21);
    assert_eq!(first.count("computing work(21)"), 1);
    assert_eq!(first.count("work(21) = 42"), 1);

    let commented = fixture.build_and_run("comments", COMMENTS_AND_FORMATTING, 21);
    assert_eq!(
        commented.count("computing work(21)"),
        0,
        "a comment-only edit missed: {commented:?}"
    );
    assert_eq!(commented.count("work(21) = 42"), 1);

    let edited = fixture.build_and_run("edited", EDITED, 21);
    assert_eq!(
        edited.count("computing work(21)"),
        1,
        "a real edit hit the old result: {edited:?}"
    );
    assert_eq!(edited.count("work(21) = 63"), 1);

    let reverted = fixture.build_and_run("reverted", ORIGINAL, 21);
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
