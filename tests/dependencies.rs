//! Dependency fingerprints: `depends_on = [helper]` folds the fingerprint of
//! `helper` (exported by `#[memory::fingerprint]`) into the cached
//! function's, so editing the helper — or what the helper depends on —
//! invalidates the caller's results, editing anything else does not, and
//! reverting finds the old results. `version = "..."` is a manual bump.
//!
//! Like `code_change.rs`, this builds real variants of a small crate with
//! cargo, one after the other in one directory, against one shared cache.

use memo_tests::FixtureCrate;

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

/// The fixture program for `variant`.
fn program(variant: Variant) -> String {
    TEMPLATE
        .replace("{INNER}", &variant.inner.to_string())
        .replace("{HELPER}", &variant.helper.to_string())
        .replace("{OTHER}", &variant.other.to_string())
        .replace("{VERSION}", variant.version)
        .replace("{VARIANT}", variant.name)
}

/// Builds and runs `variant` of the fixture crate.
fn build_and_run(fixture: &FixtureCrate, variant: Variant) -> memo_tests::Run {
    fixture.build_and_run(variant.name, &program(variant))
}

#[test]
fn editing_a_dependency_invalidates_its_callers_and_nothing_else_does() {
    let fixture = FixtureCrate::new("dependencies-fixture");

    let first = build_and_run(&fixture, ORIGINAL);
    assert_eq!(first.count("computing work(1)"), 1, "{first:?}");
    assert_eq!(first.count("computing table(3)"), 1, "{first:?}");
    assert_eq!(first.count("work(1) = 7"), 1, "{first:?}");

    // A function that is not a dependency: everything hits.
    let unrelated = build_and_run(
        &fixture,
        Variant {
            name: "unrelated",
            other: 5,
            ..ORIGINAL
        },
    );
    assert_eq!(unrelated.count("computing work(1)"), 0, "{unrelated:?}");
    assert_eq!(unrelated.count("work(1) = 7"), 1, "{unrelated:?}");

    // The direct dependency: `work` misses.
    let helper = build_and_run(
        &fixture,
        Variant {
            name: "helper",
            helper: 3,
            ..ORIGINAL
        },
    );
    assert_eq!(helper.count("computing work(1)"), 1, "{helper:?}");
    assert_eq!(helper.count("work(1) = 9"), 1, "{helper:?}");
    assert_eq!(helper.count("computing versioned(1)"), 0, "{helper:?}");

    // A dependency of the dependency: `work` misses too.
    let inner = build_and_run(
        &fixture,
        Variant {
            name: "inner",
            inner: 2,
            ..ORIGINAL
        },
    );
    assert_eq!(inner.count("computing work(1)"), 1, "{inner:?}");
    assert_eq!(inner.count("work(1) = 9"), 1, "{inner:?}");

    // Reverting finds the first results again.
    let reverted = build_and_run(
        &fixture,
        Variant {
            name: "reverted",
            ..ORIGINAL
        },
    );
    assert_eq!(reverted.count("computing work(1)"), 0, "{reverted:?}");
    assert_eq!(reverted.count("work(1) = 7"), 1, "{reverted:?}");

    // A manual bump of `version` misses; only that function.
    let bumped = build_and_run(
        &fixture,
        Variant {
            name: "bumped",
            version: "2",
            ..ORIGINAL
        },
    );
    assert_eq!(bumped.count("computing versioned(1)"), 1, "{bumped:?}");
    assert_eq!(bumped.count("computing work(1)"), 0, "{bumped:?}");
}
