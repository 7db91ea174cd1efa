//! Cached methods: `self` takes part in the key (two instances with
//! different state never share an entry), the `Self` type is part of the
//! identity (two types' methods of one name never share), and every
//! receiver — `&self`, `self`, `self: Arc<Self>` — works, in inherent and
//! trait impls, as do associated functions and trait default methods.
//!
//! Persistence runs the `methods` helper program as real processes; the
//! rest runs in this process, each test in its own cache directory.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use memo_tests::{cache_dir, entry_files, run};
use memory::Memory;
use serde::Serialize;

const METHODS: &str = env!("CARGO_BIN_EXE_methods");

#[test]
fn two_types_methods_of_one_name_return_their_own_results_across_two_runs() {
    let cache = cache_dir();
    let first = run(METHODS, cache.path(), &["describe", "21.5"]);
    assert_eq!(first.count("computing Celsius::describe"), 1, "{first:?}");
    assert_eq!(
        first.count("computing Fahrenheit::describe"),
        1,
        "{first:?}"
    );
    assert_eq!(
        first.count("Celsius(21.5).describe(1) = 21.5 °C"),
        1,
        "{first:?}"
    );
    assert_eq!(
        first.count("Fahrenheit(21.5).describe(1) = 21.5 °F"),
        1,
        "{first:?}"
    );

    let second = run(METHODS, cache.path(), &["describe", "21.5"]);
    assert_eq!(second.count("computing Celsius::describe"), 0, "{second:?}");
    assert_eq!(
        second.count("computing Fahrenheit::describe"),
        0,
        "{second:?}"
    );
    assert_eq!(
        second.count("Celsius(21.5).describe(1) = 21.5 °C"),
        1,
        "{second:?}"
    );
    assert_eq!(
        second.count("Fahrenheit(21.5).describe(1) = 21.5 °F"),
        1,
        "{second:?}"
    );

    // One directory per type: the identity names `Self`.
    let dirs = function_dirs(cache.path());
    assert!(
        dirs.contains(&"methods.Celsius.describe".to_owned()),
        "{dirs:?}"
    );
    assert!(
        dirs.contains(&"methods.Fahrenheit.describe".to_owned()),
        "{dirs:?}"
    );
    assert!(
        second.stderr.is_empty(),
        "no collision to report: {second:?}"
    );
}

#[test]
fn every_receiver_and_associated_functions_persist() {
    let cache = cache_dir();
    let first = run(METHODS, cache.path(), &["model", "4"]);
    for computed in [
        "computing Model::with_size(4)",
        "computing Model::total",
        "computing Model::scaled(2)",
        "computing Model::version",
        "computing Model::square(3)",
    ] {
        assert_eq!(first.count(computed), 1, "{computed}: {first:?}");
    }
    let second = run(METHODS, cache.path(), &["model", "4"]);
    assert!(
        !second.stdout.contains("computing"),
        "everything hits in the second run: {second:?}"
    );
    let results: Vec<&str> = first
        .stdout
        .lines()
        .filter(|l| !l.starts_with("computing"))
        .collect();
    assert_eq!(
        results,
        second.stdout.lines().collect::<Vec<_>>(),
        "same results"
    );
    let dirs = function_dirs(cache.path());
    for dir in [
        "methods.Model.with_size",
        "methods.Model.total",
        "methods.Model.scaled",
        "methods.Model.version",
        // No `self`, no `Self`: keyed like a free function of the module.
        "methods.square",
    ] {
        assert!(dirs.contains(&dir.to_owned()), "{dir} in {dirs:?}");
    }

    // A model of another size: `self` differs, the methods run again.
    let other = run(METHODS, cache.path(), &["model", "5"]);
    assert_eq!(other.count("computing Model::total"), 1, "{other:?}");
    assert_eq!(other.count("computing Model::scaled(2)"), 1, "{other:?}");
    // ...except the one that ignores `self`, and the associated function.
    assert_eq!(other.count("computing Model::version"), 0, "{other:?}");
    assert_eq!(other.count("computing Model::square(3)"), 0, "{other:?}");
}

#[test]
fn trait_impl_methods_and_default_methods_are_cached_per_type() {
    let cache = cache_dir();
    let first = run(METHODS, cache.path(), &["area", "2"]);
    assert_eq!(first.count("computing Square::area"), 1, "{first:?}");
    assert_eq!(first.count("computing Circle::area"), 1, "{first:?}");
    assert_eq!(first.count("Square(2).area() = 4"), 1, "{first:?}");
    assert_eq!(first.count("Circle(2).area() = 12.566"), 1, "{first:?}");
    assert_eq!(first.count("Square label = Square"), 1, "{first:?}");
    assert_eq!(first.count("Circle label = Circle"), 1, "{first:?}");
    let second = run(METHODS, cache.path(), &["area", "2"]);
    assert!(!second.stdout.contains("computing"), "{second:?}");
    let results = |stdout: &str| -> Vec<String> {
        stdout
            .lines()
            .filter(|l| !l.starts_with("computing"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(results(&first.stdout), results(&second.stdout));
    let dirs = function_dirs(cache.path());
    for dir in [
        "methods.Square.area",
        "methods.Circle.area",
        // One trait default method, one identity per implementing type.
        "methods.Square.label",
        "methods.Circle.label",
    ] {
        assert!(dirs.contains(&dir.to_owned()), "{dir} in {dirs:?}");
    }
}

#[test]
fn the_registry_lists_a_method_once_it_is_called() {
    let cache = cache_dir();
    let listed = run(METHODS, cache.path(), &["registry"]);
    // Nothing called yet: methods register at their first call (their
    // `Self` is known from then on); free functions before `main`.
    assert!(!listed.stdout.contains("::describe "), "{listed:?}");
    assert!(listed.stdout.contains("methods::square "), "{listed:?}");
    let called = run(METHODS, cache.path(), &["describe-then-registry", "1"]);
    assert!(
        called.stdout.contains("methods::Celsius::describe "),
        "{called:?}"
    );
    assert!(
        called.stdout.contains("methods::Fahrenheit::describe "),
        "{called:?}"
    );
    assert!(called.stdout.contains("methods::square "), "{called:?}");
}

// ------------------------------------------------------------ in this process

fn temp_memory() -> Memory {
    Memory::new(memo_tests::process_cache_dir())
}

static CACHE: LazyLock<Memory> = LazyLock::new(temp_memory);

static RUNS: AtomicUsize = AtomicUsize::new(0);

fn runs() -> usize {
    RUNS.load(Ordering::SeqCst)
}

#[derive(Serialize)]
struct Account {
    owner: String,
    balance: i64,
}

impl Account {
    #[memory::cache(memory = CACHE)]
    fn projected(&self, months: u32) -> i64 {
        RUNS.fetch_add(1, Ordering::SeqCst);
        self.balance * i64::from(months)
    }
}

#[test]
fn two_instances_with_different_state_never_share_an_entry() {
    let alice = Account {
        owner: "alice".into(),
        balance: 10,
    };
    let bob = Account {
        owner: "bob".into(),
        balance: 20,
    };
    let before = runs();
    assert_eq!(alice.projected(3), 30);
    assert_eq!(bob.projected(3), 60, "not alice's result");
    assert_eq!(runs() - before, 2);
    // Equal state is the same key, whichever instance.
    let alice_again = Account {
        owner: "alice".into(),
        balance: 10,
    };
    assert_eq!(alice_again.projected(3), 30);
    assert_eq!(runs() - before, 2);
    // Any field counts, not only the ones the body reads.
    let carol = Account {
        owner: "carol".into(),
        balance: 10,
    };
    assert_eq!(carol.projected(3), 30);
    assert_eq!(runs() - before, 3);
}

fn function_dirs(cache: &Path) -> Vec<String> {
    let mut dirs: Vec<String> = entry_files(cache)
        .iter()
        .filter_map(|entry| {
            let relative: PathBuf = entry.strip_prefix(cache).ok()?.to_path_buf();
            Some(relative.iter().next()?.to_string_lossy().into_owned())
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}
