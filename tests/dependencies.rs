//! Dependency fingerprints: `depends_on = [helper]` folds the fingerprint of
//! `helper` (exported by `#[memory::fingerprint]`) into the cached
//! function's, so editing the helper — or what the helper depends on —
//! invalidates the caller's results, editing anything else does not, and
//! reverting finds the old results. `version = "..."` is a manual bump.
//!
//! Like `code_change.rs`, this builds real variants of a small crate with
//! cargo, one after the other in one directory, against one shared cache.

use std::path::{Path, PathBuf};
use std::process::Command;

use memo_tests::{Run, cache_dir, run_with};

/// The fixture's source, with `{INNER}`, `{HELPER}`, `{OTHER}` and
/// `{VERSION}` to fill in.
const TEMPLATE: &str = r#"
mod util {
    #[memory::fingerprint]
    pub fn inner(x: u64) -> u64 {
        x + {INNER}
    }

    #[memory::fingerprint(depends_on = [inner])]
    pub fn helper(x: u64) -> u64 {
        inner(x) * {HELPER}
    }

    /// Not a dependency of anything cached.
    pub fn other(x: u64) -> u64 {
        x + {OTHER}
    }
}

/// A cached function can be a dependency too.
#[memory::cache]
#[memory::fingerprint]
fn table(n: u64) -> Vec<u64> {
    println!("computing table({n})");
    (0..n).collect()
}

use util::helper;

#[memory::cache(depends_on = [helper, table])]
fn work(x: u64) -> u64 {
    println!("computing work({x})");
    helper(x) + table(3).len() as u64 + util::other(0) * 0
}

#[memory::cache(version = "{VERSION}")]
fn versioned(x: u64) -> u64 {
    println!("computing versioned({x})");
    x
}

fn main() {
    println!("variant {VARIANT}");
    println!("work(1) = {}", work(1));
    println!("versioned(1) = {}", versioned(1));
}
"#;

#[derive(Clone, Copy)]
struct Variant {
    name: &'static str,
    inner: u64,
    helper: u64,
    other: u64,
    version: &'static str,
}

const ORIGINAL: Variant = Variant {
    name: "original",
    inner: 1,
    helper: 2,
    other: 0,
    version: "1",
};

struct Fixture {
    dir: tempfile::TempDir,
    cache: tempfile::TempDir,
    target: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let dir = tempfile::Builder::new()
            .prefix("memo-dependencies-")
            .tempdir()
            .unwrap();
        let manifest = include_str!("fixtures/code_change/Cargo.toml.in")
            .replace(
                "@MEMO_CORE@",
                &workspace.join("memo-core").display().to_string(),
            )
            .replace("code-change-fixture", "dependencies-fixture");
        std::fs::write(dir.path().join("Cargo.toml"), manifest).unwrap();
        std::fs::copy(workspace.join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        Fixture {
            dir,
            cache: cache_dir(),
            target: workspace.join("target").join("dependencies-fixture"),
        }
    }

    fn build_and_run(&self, variant: Variant) -> Run {
        let source = TEMPLATE
            .replace("{INNER}", &variant.inner.to_string())
            .replace("{HELPER}", &variant.helper.to_string())
            .replace("{OTHER}", &variant.other.to_string())
            .replace("{VERSION}", variant.version)
            .replace("{VARIANT}", variant.name);
        std::fs::write(self.dir.path().join("src/main.rs"), source).unwrap();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let build = Command::new(cargo)
            .args(["build", "--quiet", "--offline", "--manifest-path"])
            .arg(self.dir.path().join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &self.target)
            .status()
            .expect("run cargo");
        assert!(
            build.success(),
            "building the {} variant failed",
            variant.name
        );
        let exe = self.target.join("debug").join("dependencies-fixture");
        let run = run_with(Command::new(exe).env("MEMO_CACHE_DIR", self.cache.path()));
        assert_eq!(
            run.count(&format!("variant {}", variant.name)),
            1,
            "stale binary: {run:?}"
        );
        run
    }
}

#[test]
fn editing_a_dependency_invalidates_its_callers_and_nothing_else_does() {
    let fixture = Fixture::new();

    let first = fixture.build_and_run(ORIGINAL);
    assert_eq!(first.count("computing work(1)"), 1, "{first:?}");
    assert_eq!(first.count("computing table(3)"), 1, "{first:?}");
    assert_eq!(first.count("work(1) = 7"), 1, "{first:?}");

    // A function that is not a dependency: everything hits.
    let unrelated = fixture.build_and_run(Variant {
        name: "unrelated",
        other: 5,
        ..ORIGINAL
    });
    assert_eq!(unrelated.count("computing work(1)"), 0, "{unrelated:?}");
    assert_eq!(unrelated.count("work(1) = 7"), 1, "{unrelated:?}");

    // The direct dependency: `work` misses.
    let helper = fixture.build_and_run(Variant {
        name: "helper",
        helper: 3,
        ..ORIGINAL
    });
    assert_eq!(helper.count("computing work(1)"), 1, "{helper:?}");
    assert_eq!(helper.count("work(1) = 9"), 1, "{helper:?}");
    assert_eq!(helper.count("computing versioned(1)"), 0, "{helper:?}");

    // A dependency of the dependency: `work` misses too.
    let inner = fixture.build_and_run(Variant {
        name: "inner",
        inner: 2,
        ..ORIGINAL
    });
    assert_eq!(inner.count("computing work(1)"), 1, "{inner:?}");
    assert_eq!(inner.count("work(1) = 9"), 1, "{inner:?}");

    // Reverting finds the first results again.
    let reverted = fixture.build_and_run(Variant {
        name: "reverted",
        ..ORIGINAL
    });
    assert_eq!(reverted.count("computing work(1)"), 0, "{reverted:?}");
    assert_eq!(reverted.count("work(1) = 7"), 1, "{reverted:?}");

    // A manual bump of `version` misses; only that function.
    let bumped = fixture.build_and_run(Variant {
        name: "bumped",
        version: "2",
        ..ORIGINAL
    });
    assert_eq!(bumped.count("computing versioned(1)"), 1, "{bumped:?}");
    assert_eq!(bumped.count("computing work(1)"), 0, "{bumped:?}");
}
