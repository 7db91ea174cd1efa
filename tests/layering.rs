//! memo-core's dependency directions, checked on its sources: the call
//! path and usage recording never import administration, administration
//! never imports the call path, and `__private` holds re-exports only,
//! which the runtime never imports.

use std::fs;
use std::path::{Path, PathBuf};

fn core_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../memo-core/src")
}

/// Every `.rs` file at `paths` (files, or directories walked whole).
fn sources(paths: &[&str]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending: Vec<PathBuf> = paths.iter().map(|p| core_src().join(p)).collect();
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            for entry in fs::read_dir(&path).expect("readable source directory") {
                pending.push(entry.expect("readable directory entry").path());
            }
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        } else {
            assert!(path.exists(), "{} is missing", path.display());
        }
    }
    assert!(!found.is_empty(), "no sources at {paths:?}");
    found
}

/// Lines of code (not comments) in `file` that mention `needle`.
fn mentions(file: &Path, needle: &str) -> Vec<String> {
    let text = fs::read_to_string(file).expect("readable source");
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .filter(|line| line.contains(needle))
        .map(|line| format!("{}: {}", file.display(), line.trim()))
        .collect()
}

fn assert_none(paths: &[&str], needles: &[&str]) {
    let found: Vec<String> = sources(paths)
        .iter()
        .flat_map(|file| needles.iter().flat_map(move |n| mentions(file, n)))
        .collect();
    assert!(found.is_empty(), "wrong-way imports:\n{}", found.join("\n"));
}

#[test]
fn call_path_and_usage_never_import_administration() {
    assert_none(
        &["call.rs", "call", "function.rs", "handle.rs", "usage"],
        &["crate::manage", "crate::memory::admin"],
    );
}

#[test]
fn usage_never_imports_the_call_path() {
    assert_none(
        &["usage"],
        &["crate::call", "crate::function", "crate::handle"],
    );
}

#[test]
fn administration_never_imports_the_call_path() {
    assert_none(
        &["manage"],
        &[
            "crate::call",
            "crate::function",
            "crate::handle",
            "CachedFn",
        ],
    );
}

#[test]
fn the_runtime_never_imports_from_private() {
    let files: Vec<PathBuf> = sources(&["."])
        .into_iter()
        .filter(|f| !f.ends_with("private.rs") && !f.ends_with("lib.rs"))
        .collect();
    let found: Vec<String> = files
        .iter()
        .flat_map(|f| mentions(f, "__private"))
        .collect();
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn private_holds_hidden_re_exports_only() {
    let text = fs::read_to_string(core_src().join("private.rs")).expect("private.rs");
    let mut hidden = false;
    let mut items = 0;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        if line == "#[doc(hidden)]" {
            hidden = true;
            continue;
        }
        assert!(
            line.starts_with("pub use ") && line.ends_with(';'),
            "not a one-line re-export in private.rs: {line}"
        );
        assert!(hidden, "a re-export without #[doc(hidden)]: {line}");
        hidden = false;
        items += 1;
    }
    assert!(items > 0, "private.rs re-exports nothing");
}
