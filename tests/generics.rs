//! Generic functions: each instantiation has its own entries
//! (`describe::<u32>(1)` and `describe::<u64>(1)` never share), while all of
//! them are one function with one identity and one directory; `where`
//! clauses, lifetimes and const generics pass through untouched. Methods of
//! generic types key on `Self`'s type arguments the same way.

// The expansion is lint-clean and has no `unsafe`: checked on every
// function here by the lint levels (and by clippy).
#![forbid(unsafe_code)]
#![deny(warnings, clippy::all, clippy::pedantic)]

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use memo_tests::entry_files;
use memory::Memory;
use serde::{Deserialize, Serialize};

static DIR: LazyLock<PathBuf> = LazyLock::new(memo_tests::process_cache_dir);
static CACHE: LazyLock<Memory> = LazyLock::new(|| Memory::new(DIR.as_path()));

static DESCRIBE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = CACHE)]
fn describe<T: Serialize + Debug>(value: T) -> String {
    DESCRIBE_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{value:?} as {}", std::any::type_name::<T>())
}

#[test]
fn each_instantiation_has_its_own_entries() {
    assert_eq!(describe::<u32>(1), "1 as u32");
    assert_eq!(describe::<u64>(1), "1 as u64", "not u32's entry");
    assert_eq!(describe::<u32>(1), "1 as u32");
    assert_eq!(describe::<u64>(1), "1 as u64");
    assert_eq!(DESCRIBE_RUNS.load(Ordering::SeqCst), 2);
    // One function, one directory.
    let dirs: BTreeSet<String> = dirs_of(DIR.as_path(), "describe");
    assert_eq!(dirs.len(), 1, "{dirs:?}");
}

static LONGEST_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Lifetimes, a `where` clause and a borrowed argument pass through.
#[memory::cache(memory = CACHE)]
fn longest<'a, T>(items: &'a [T], min: usize) -> Option<usize>
where
    T: AsRef<str> + Serialize,
{
    LONGEST_RUNS.fetch_add(1, Ordering::SeqCst);
    items
        .iter()
        .map(|item| item.as_ref().len())
        .filter(|len| *len >= min)
        .max()
}

#[test]
fn where_clauses_and_lifetimes_pass_through() {
    let words = vec!["a".to_owned(), "abc".to_owned()];
    assert_eq!(longest(&words, 1), Some(3));
    let borrowed = ["a", "abc"];
    assert_eq!(
        longest(&borrowed[..], 1),
        Some(3),
        "&str is another type argument"
    );
    assert_eq!(longest(&words, 1), Some(3));
    assert_eq!(LONGEST_RUNS.load(Ordering::SeqCst), 2);
}

static ZEROS_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = CACHE)]
fn zeros<const N: usize>(fill: u8) -> Vec<u8> {
    ZEROS_RUNS.fetch_add(1, Ordering::SeqCst);
    vec![fill; N]
}

#[test]
fn const_generics_are_part_of_the_key() {
    assert_eq!(zeros::<2>(0), vec![0, 0]);
    assert_eq!(zeros::<3>(0), vec![0, 0, 0]);
    assert_eq!(zeros::<2>(0), vec![0, 0]);
    assert_eq!(ZEROS_RUNS.load(Ordering::SeqCst), 2);
}

#[derive(Serialize, Deserialize)]
struct Stack<T> {
    items: Vec<T>,
}

static TOP_RUNS: AtomicUsize = AtomicUsize::new(0);

impl<T: Serialize + Clone + Debug> Stack<T> {
    /// `Self` is `Stack<T>`: the method's identity is `Stack::summary`,
    /// its entries are keyed by `T` too.
    #[memory::cache(memory = CACHE)]
    fn summary(&self) -> String {
        TOP_RUNS.fetch_add(1, Ordering::SeqCst);
        format!("{:?}", self.items.last())
    }
}

#[test]
fn methods_of_generic_types_key_on_the_type_arguments() {
    let small = Stack { items: vec![1u8] };
    let wide = Stack { items: vec![1u64] };
    assert_eq!(small.summary(), "Some(1)");
    assert_eq!(wide.summary(), "Some(1)");
    // Same serialized state, other `T`: two entries.
    assert_eq!(TOP_RUNS.load(Ordering::SeqCst), 2);
    assert_eq!(small.summary(), "Some(1)");
    assert_eq!(TOP_RUNS.load(Ordering::SeqCst), 2);
    let dirs = dirs_of(DIR.as_path(), "summary");
    assert_eq!(
        dirs.into_iter().collect::<Vec<_>>(),
        ["generics.Stack.summary"],
        "one identity for every T"
    );
}

fn dirs_of(cache: &Path, function: &str) -> BTreeSet<String> {
    entry_files(cache)
        .iter()
        .filter_map(|entry| {
            let relative = entry.strip_prefix(cache).ok()?;
            Some(relative.iter().next()?.to_string_lossy().into_owned())
        })
        .filter(|dir| dir.ends_with(&format!(".{function}")))
        .collect()
}

static SILENCED_RUNS: AtomicUsize = AtomicUsize::new(0);

/// A compile-time warning silenced with `#[allow(deprecated)]`: the
/// expansion that raises it is lint-clean too.
#[allow(deprecated)]
#[memory::cache(memory = CACHE)]
fn silenced_unit<T: Serialize>(value: T) {
    let _ = value;
    SILENCED_RUNS.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn silenced_warnings_compile_cleanly() {
    silenced_unit(1u8);
    silenced_unit(1u8);
    assert_eq!(SILENCED_RUNS.load(Ordering::SeqCst), 1);
}
