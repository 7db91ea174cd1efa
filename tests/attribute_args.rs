//! Behaviour of the attribute's arguments on real functions: `name =`,
//! `memory =`, `crate =`, `ignore =`, and the function shapes the attribute
//! accepts (destructuring parameters, generics, `Result` and other outputs).
//! `expires_after =` and `validate =` are in `expiry.rs`.
//!
//! Every cached function here stores under its own temporary directory
//! (`memory = ...`), and counts how often its body runs.
//!
//! The lint levels below also check the expansion: every function in this file
//! goes through `#[memory::cache]`, so a lint that fires inside generated code
//! fails `cargo clippy -p memo-tests --all-targets -- -D warnings`.

#![deny(warnings, clippy::all, clippy::pedantic)]

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use memory::Memory;
use serde::{Deserialize, Serialize};

/// A fresh cache directory under the system's temporary directory.
fn temp_cache_dir() -> PathBuf {
    memo_tests::process_cache_dir()
}

/// Removes a test's cache directory when the test ends, even by panicking.
struct RemoveOnDrop(&'static Path);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.0);
    }
}

/// Declares, for one test, a cache directory and a `Memory` stored in it.
macro_rules! test_memory {
    ($dir:ident, $memory:ident) => {
        static $dir: LazyLock<PathBuf> = LazyLock::new(temp_cache_dir);
        static $memory: LazyLock<Memory> = LazyLock::new(|| Memory::new($dir.clone()));
    };
}

fn runs(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

// ---------------------------------------------------------------- name = "..."

test_memory!(NAME_DIR, NAME_CACHE);
static SQUARE_RUNS: AtomicUsize = AtomicUsize::new(0);

/// The same function in two modules with one explicit `name` and the same
/// code: in one program that is a collision (reported at the first cached
/// call), and their results are kept apart. The move across programs that
/// `name` is for is tested in `collisions.rs`.
mod before_the_move {
    #[memory::cache(name = "attribute_args::square", memory = super::NAME_CACHE)]
    pub fn square(x: u64) -> u64 {
        super::SQUARE_RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        x * x
    }
}

mod after_the_move {
    #[memory::cache(name = "attribute_args::square", memory = super::NAME_CACHE)]
    pub fn square(x: u64) -> u64 {
        super::SQUARE_RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        x * x
    }
}

#[test]
fn one_name_in_two_modules_of_one_program_keeps_results_apart() {
    let _cleanup = RemoveOnDrop(&NAME_DIR);
    assert_eq!(before_the_move::square(7), 49);
    assert_eq!(runs(&SQUARE_RUNS), 1);
    assert_eq!(after_the_move::square(7), 49);
    assert_eq!(runs(&SQUARE_RUNS), 2, "not the other definition's entry");
    assert_eq!(after_the_move::square(7), 49);
    assert_eq!(before_the_move::square(7), 49);
    assert_eq!(runs(&SQUARE_RUNS), 2, "each hits its own");
    let dirs: std::collections::BTreeSet<_> = files_under(&NAME_DIR)
        .iter()
        .filter(|file| file.extension().is_some_and(|e| e == "memo"))
        .filter_map(|file| {
            file.strip_prefix(&*NAME_DIR)
                .ok()?
                .iter()
                .next()
                .map(ToOwned::to_owned)
        })
        .collect();
    // Managed apart too: each definition has its own directory, so a clear
    // or a stale-version sweep of one leaves the other's entries.
    assert_eq!(dirs.len(), 2, "a directory per definition: {dirs:?}");
    assert!(
        dirs.iter()
            .all(|dir| dir.to_string_lossy().starts_with("attribute_args.square@")),
        "{dirs:?}"
    );
}

// ----------------------------------------------------------------- memory = EXPR

test_memory!(MEMORY_DIR, CACHE);
static DOUBLE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = CACHE)]
fn double(x: u64) -> u64 {
    DOUBLE_RUNS.fetch_add(1, Ordering::SeqCst);
    x * 2
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn memory_stores_under_its_location() {
    let _cleanup = RemoveOnDrop(&MEMORY_DIR);
    assert!(files_under(&MEMORY_DIR).is_empty());
    assert_eq!(double(21), 42);
    assert!(
        !files_under(&MEMORY_DIR).is_empty(),
        "the entry is under the `memory =` location"
    );
    assert_eq!(double(21), 42);
    assert_eq!(runs(&DOUBLE_RUNS), 1);
}

// ------------------------------------------------------------------ crate = path

/// A crate that re-exports memo under another path, as a framework would.
mod reexport {
    pub use memory as mem;
}

static CRATE_DIR: LazyLock<PathBuf> = LazyLock::new(temp_cache_dir);
static CRATE_CACHE: LazyLock<reexport::mem::Memory> =
    LazyLock::new(|| reexport::mem::Memory::new(CRATE_DIR.clone()));
static TRIPLE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[reexport::mem::cache(crate = crate::reexport::mem, memory = CRATE_CACHE)]
fn triple(x: u64) -> u64 {
    TRIPLE_RUNS.fetch_add(1, Ordering::SeqCst);
    x * 3
}

#[test]
fn crate_path_reaches_the_runtime_through_a_reexport() {
    let _cleanup = RemoveOnDrop(&CRATE_DIR);
    assert_eq!(triple(5), 15);
    assert_eq!(triple(5), 15);
    assert_eq!(runs(&TRIPLE_RUNS), 1);
}

// ------------------------------------------------------------------- ignore = [..]

test_memory!(IGNORE_DIR, IGNORE_CACHE);
static WEIGH_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Only the middle parameter is ignored: a regression guard against an
/// off-by-one between `ignore` names and argument positions.
#[memory::cache(ignore = ["label"], memory = IGNORE_CACHE)]
fn weigh(mass: u64, label: &str, scale: u64) -> u64 {
    WEIGH_RUNS.fetch_add(1, Ordering::SeqCst);
    let _ = label;
    mass * scale
}

#[test]
fn ignore_leaves_out_only_the_named_parameter() {
    let _cleanup = RemoveOnDrop(&IGNORE_DIR);
    assert_eq!(weigh(2, "first", 10), 20);
    assert_eq!(
        weigh(2, "second", 10),
        20,
        "a different label is the same call"
    );
    assert_eq!(runs(&WEIGH_RUNS), 1);
    assert_eq!(
        weigh(2, "first", 11),
        22,
        "the last parameter is still hashed"
    );
    assert_eq!(runs(&WEIGH_RUNS), 2);
    assert_eq!(
        weigh(3, "first", 10),
        30,
        "the first parameter is still hashed"
    );
    assert_eq!(runs(&WEIGH_RUNS), 3);
}

// ------------------------------------------------------- destructuring parameters

test_memory!(PATTERN_DIR, PATTERN_CACHE);
static AREA_RUNS: AtomicUsize = AtomicUsize::new(0);

#[derive(Serialize)]
struct Size {
    width: u64,
    height: u64,
}

#[memory::cache(memory = PATTERN_CACHE)]
fn area((x, y): (u64, u64), Size { width, height }: Size, mut border: u64) -> u64 {
    AREA_RUNS.fetch_add(1, Ordering::SeqCst);
    border = border.min(width - x);
    (width - x - border) * (height - y)
}

#[test]
fn destructuring_parameters_take_part_in_the_key() {
    let _cleanup = RemoveOnDrop(&PATTERN_DIR);
    let size = || Size {
        width: 10,
        height: 5,
    };
    assert_eq!(area((1, 1), size(), 0), 36);
    assert_eq!(area((1, 1), size(), 0), 36);
    assert_eq!(runs(&AREA_RUNS), 1);
    assert_eq!(area((2, 1), size(), 0), 32, "the tuple pattern is hashed");
    assert_eq!(runs(&AREA_RUNS), 2);
    assert_eq!(
        area(
            (2, 1),
            Size {
                width: 11,
                height: 5
            },
            0
        ),
        36,
        "the struct pattern is hashed"
    );
    assert_eq!(runs(&AREA_RUNS), 3);
    assert_eq!(
        area(
            (2, 1),
            Size {
                width: 11,
                height: 5
            },
            1
        ),
        32,
        "the `mut` parameter is hashed"
    );
    assert_eq!(runs(&AREA_RUNS), 4);
}

// ---------------------------------------------------------------------- generics

test_memory!(DESCRIBE_DIR, DESCRIBE_CACHE);
test_memory!(LABEL_DIR, LABEL_CACHE);
test_memory!(REPEAT_DIR, REPEAT_CACHE);
static DESCRIBE_RUNS: AtomicUsize = AtomicUsize::new(0);
static LABEL_RUNS: AtomicUsize = AtomicUsize::new(0);
static REPEAT_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = DESCRIBE_CACHE)]
fn describe<T>(value: T) -> String
where
    T: Serialize + std::fmt::Display,
{
    DESCRIBE_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{value}: {}", std::any::type_name::<T>())
}

#[memory::cache(memory = LABEL_CACHE)]
fn label(value: impl Serialize + std::fmt::Display) -> String {
    LABEL_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("<{value}>")
}

#[memory::cache(memory = REPEAT_CACHE)]
fn repeat<'a, const N: usize>(text: &'a str) -> String {
    REPEAT_RUNS.fetch_add(1, Ordering::SeqCst);
    text.repeat(N)
}

#[test]
fn each_instantiation_of_a_generic_function_has_its_own_entries() {
    let _cleanup = RemoveOnDrop(&DESCRIBE_DIR);
    assert_eq!(describe::<u32>(1), "1: u32");
    assert_eq!(describe::<u64>(1), "1: u64");
    assert_eq!(runs(&DESCRIBE_RUNS), 2);
    assert_eq!(describe::<u32>(1), "1: u32");
    assert_eq!(runs(&DESCRIBE_RUNS), 2);
}

#[test]
fn impl_trait_arguments_are_told_apart_by_type() {
    let _cleanup = RemoveOnDrop(&LABEL_DIR);
    assert_eq!(label(1u8), "<1>");
    assert_eq!(label(1i64), "<1>");
    assert_eq!(runs(&LABEL_RUNS), 2);
    assert_eq!(label(1u8), "<1>");
    assert_eq!(runs(&LABEL_RUNS), 2);
}

#[test]
fn const_generic_parameters_take_part_in_the_key() {
    let _cleanup = RemoveOnDrop(&REPEAT_DIR);
    assert_eq!(repeat::<2>("ab"), "abab");
    assert_eq!(repeat::<3>("ab"), "ababab");
    assert_eq!(repeat::<2>("ab"), "abab");
    assert_eq!(runs(&REPEAT_RUNS), 2);
}

// ----------------------------------------------------- associated functions

test_memory!(NEW_DIR, NEW_CACHE);
static NEW_RUNS: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Meters {
    value: u64,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Feet {
    value: u64,
}

// The same tokens in two `impl` blocks of one module: one identity
// (`attribute_args::new`) and one fingerprint, told apart by `Self`.
impl Meters {
    #[memory::cache(memory = NEW_CACHE)]
    fn new(value: u64) -> Self {
        NEW_RUNS.fetch_add(1, Ordering::SeqCst);
        Self { value }
    }
}

impl Feet {
    #[memory::cache(memory = NEW_CACHE)]
    fn new(value: u64) -> Self {
        NEW_RUNS.fetch_add(1, Ordering::SeqCst);
        Self { value }
    }
}

#[test]
fn associated_functions_returning_self_do_not_share_entries() {
    let _cleanup = RemoveOnDrop(&NEW_DIR);
    assert_eq!(Meters::new(3), Meters { value: 3 });
    assert_eq!(Feet::new(3), Feet { value: 3 });
    assert_eq!(runs(&NEW_RUNS), 2);
    assert_eq!(Meters::new(3), Meters { value: 3 });
    assert_eq!(Feet::new(3), Feet { value: 3 });
    assert_eq!(runs(&NEW_RUNS), 2, "each type keeps its own entry");
}

// ------------------------------------------------------------- other shapes

test_memory!(SHAPES_DIR, SHAPES_CACHE);
static FIB_RUNS: AtomicUsize = AtomicUsize::new(0);
static APPLY_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Recursion goes through the cache: each `n` is computed once.
#[must_use]
#[memory::cache(memory = SHAPES_CACHE)]
pub(crate) fn fib(n: u64) -> u64 {
    #![allow(unused_variables)] // an inner attribute stays at the top of the body
    FIB_RUNS.fetch_add(1, Ordering::SeqCst);
    match n {
        0 => 0,
        1 => 1,
        _ => fib(n - 1) + fib(n - 2),
    }
}

/// An ignored `impl Fn` parameter takes no part in the key, not even through
/// its type: each closure has a type of its own.
#[memory::cache(ignore = ["on_miss"], memory = SHAPES_CACHE)]
fn apply(x: u64, on_miss: impl Fn(u64)) -> u64 {
    on_miss(x);
    #[memory::cache(memory = SHAPES_CACHE)]
    fn nested(x: u64) -> u64 {
        x + 1
    }
    if x == 0 {
        return 0;
    }
    nested(x)
}

/// # Safety
/// Nothing to uphold: the test only checks that `unsafe fn` is accepted.
#[memory::cache(memory = SHAPES_CACHE)]
unsafe fn unchecked_half(x: u64) -> u64 {
    x / 2
}

#[test]
fn other_signatures_compile_and_cache() {
    let _cleanup = RemoveOnDrop(&SHAPES_DIR);
    assert_eq!(fib(20), 6765);
    assert_eq!(runs(&FIB_RUNS), 21);
    assert_eq!(fib(20), 6765);
    assert_eq!(runs(&FIB_RUNS), 21);

    let count = |_: u64| {
        APPLY_RUNS.fetch_add(1, Ordering::SeqCst);
    };
    assert_eq!(apply(4, count), 5);
    assert_eq!(apply(4, |_| panic!("another closure, same call: a hit")), 5);
    assert_eq!(apply(0, count), 0);
    assert_eq!(runs(&APPLY_RUNS), 2);

    // SAFETY: `unchecked_half` has no preconditions.
    assert_eq!(unsafe { unchecked_half(8) }, 4);
}

// ------------------------------------------------------------------------ outputs

test_memory!(PARSE_DIR, PARSE_CACHE);
test_memory!(READ_DIR, READ_CACHE);
test_memory!(HALF_DIR, HALF_CACHE);
test_memory!(RECORD_DIR, RECORD_CACHE);
test_memory!(PAIR_DIR, PAIR_CACHE);
static PARSE_RUNS: AtomicUsize = AtomicUsize::new(0);
static READ_RUNS: AtomicUsize = AtomicUsize::new(0);
static HALF_RUNS: AtomicUsize = AtomicUsize::new(0);
static RECORD_RUNS: AtomicUsize = AtomicUsize::new(0);

/// An error type that is not `Serialize`: `Err` is never stored, so it
/// needs not be.
#[derive(Debug, PartialEq)]
struct NotANumber(String);

#[memory::cache(memory = PARSE_CACHE)]
fn parse(text: &str) -> Result<u64, NotANumber> {
    PARSE_RUNS.fetch_add(1, Ordering::SeqCst);
    text.parse().map_err(|_| NotANumber(text.to_owned()))
}

#[memory::cache(memory = READ_CACHE)]
fn read_len(path: &str) -> std::io::Result<u64> {
    READ_RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(std::fs::metadata(path)?.len())
}

#[memory::cache(memory = HALF_CACHE)]
fn half(x: u64) -> Option<u64> {
    HALF_RUNS.fetch_add(1, Ordering::SeqCst);
    x.is_multiple_of(2).then_some(x / 2)
}

#[memory::cache(memory = RECORD_CACHE, verbose = 0, allow(unit_output))]
fn record(event: &str) {
    RECORD_RUNS.fetch_add(1, Ordering::SeqCst);
    let _ = event;
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Pair<T> {
    left: T,
    right: T,
}

#[memory::cache(memory = PAIR_CACHE)]
fn pair<T: Clone + Serialize + for<'de> Deserialize<'de>>(value: T) -> Pair<T> {
    Pair {
        left: value.clone(),
        right: value,
    }
}

#[test]
fn result_caches_ok_and_never_err() {
    let _cleanup = RemoveOnDrop(&PARSE_DIR);
    assert_eq!(parse("7"), Ok(7));
    assert_eq!(parse("7"), Ok(7));
    assert_eq!(runs(&PARSE_RUNS), 1);
    assert_eq!(parse("seven"), Err(NotANumber("seven".to_owned())));
    assert_eq!(parse("seven"), Err(NotANumber("seven".to_owned())));
    assert_eq!(runs(&PARSE_RUNS), 3, "each `Err` is computed again");
}

#[test]
fn io_result_caches_ok_and_never_err() {
    let _cleanup = RemoveOnDrop(&READ_DIR);
    let input = tempfile::NamedTempFile::new().expect("create an input file");
    std::fs::write(input.path(), b"abc").expect("write the input file");
    let input = input
        .path()
        .to_str()
        .expect("temporary paths are UTF-8 here");
    assert_eq!(read_len(input).expect("the input exists"), 3);
    assert_eq!(read_len(input).expect("the input exists"), 3);
    assert_eq!(runs(&READ_RUNS), 1);

    let missing = READ_DIR.join("no such file");
    let missing = missing.to_str().expect("temporary paths are UTF-8 here");
    assert!(read_len(missing).is_err());
    assert!(read_len(missing).is_err());
    assert_eq!(runs(&READ_RUNS), 3, "each `Err` is computed again");
}

#[test]
fn option_none_is_a_value_and_is_cached() {
    let _cleanup = RemoveOnDrop(&HALF_DIR);
    assert_eq!(half(3), None);
    assert_eq!(half(3), None);
    assert_eq!(half(4), Some(2));
    assert_eq!(half(4), Some(2));
    assert_eq!(runs(&HALF_RUNS), 2);
}

#[test]
fn unit_output_is_cached() {
    let _cleanup = RemoveOnDrop(&RECORD_DIR);
    record("start");
    record("start");
    assert_eq!(runs(&RECORD_RUNS), 1);
}

#[test]
fn generic_output_round_trips() {
    let _cleanup = RemoveOnDrop(&PAIR_DIR);
    assert_eq!(pair(5u8), Pair { left: 5, right: 5 });
    assert_eq!(
        pair("x".to_owned()),
        Pair {
            left: "x".to_owned(),
            right: "x".to_owned()
        }
    );
    assert_eq!(pair(5u8), Pair { left: 5, right: 5 });
}
