//! On-disk memoization: put `#[memory::cache]` on a function, and a call with
//! arguments seen before returns the stored result instead of running again —
//! across runs, processes and machines that share a cache directory.
//!
//! ```
//! # memory::set_default(memory::Memory::new(std::env::temp_dir().join("memo-doc-crate"))).unwrap();
//! #[memory::cache]
//! fn slow_square(x: u64) -> u64 {
//!     std::thread::sleep(std::time::Duration::from_millis(100));
//!     x * x
//! }
//!
//! assert_eq!(slow_square(12), 144); // runs, and stores the result
//! assert_eq!(slow_square(12), 144); // loads it: no sleep
//! ```
//!
//! Calls are keyed by the function's identity (`crate::module::name`), a
//! fingerprint of its code (comments and formatting excluded, so only real
//! edits invalidate), and a canonical hash of its arguments (see [`hash`]).
//! Outputs are stored as MessagePack behind a checksummed header (see
//! [`entry`] and `docs/format.md`); a damaged entry is detected and
//! recomputed, and no failure of the cache ever loses a result.
//!
//! Where results go is a [`Memory`]: by default `$MEMO_CACHE_DIR`, else
//! `.memo_cache` in the working directory ([`Memory::from_env`]); install
//! another with [`set_default`], or give a function its own with
//! `memory = ...`. The guide (`docs/guide.md`) walks through joblib's
//! examples in Rust.

#![cfg_attr(docsrs, feature(doc_cfg))]

/// Caches a function's results on disk.
///
/// The function's arguments (except those in `ignore`) must implement
/// `serde::Serialize`, and its output `Serialize + DeserializeOwned`. A
/// function returning `Result<T, E>` caches only `Ok` values.
///
/// It goes on free functions, on methods in any `impl` block (inherent or
/// trait, and trait default methods), on associated, generic and `async`
/// functions:
///
/// - a method's `self` is part of the key (it must be `Serialize`), unless
///   `ignore = ["self"]`, and its `Self` type is part of its identity
///   (`crate::module::Type::method`);
/// - each instantiation of a generic function has its own entries;
/// - an `async fn`'s output is stored; waiting for another caller computing
///   the same key happens off the executor (the guide says what runs where);
/// - a `&mut` parameter (`&mut self` included) that is part of the key is a
///   compile error: on a hit the body does not run, so its changes would be
///   lost. Pass it by value or `&`, or list it in `ignore` if it is not an
///   input of the result.
///
/// ```
/// # memory::set_default(memory::Memory::disabled()).unwrap();
/// #[derive(serde::Serialize)]
/// struct Model {
///     weights: Vec<f64>,
/// }
///
/// impl Model {
///     #[memory::cache]
///     fn predict(&self, x: f64) -> f64 {
///         self.weights.iter().map(|w| w * x).sum()
///     }
/// }
/// # assert_eq!(Model { weights: vec![1.0, 2.0] }.predict(2.0), 6.0);
/// ```
///
/// ```compile_fail
/// #[derive(serde::Serialize)]
/// struct Counter { n: u64 }
///
/// impl Counter {
///     #[memory::cache] // error: a hit would not bump the counter
///     fn bump(&mut self) -> u64 { self.n += 1; self.n }
/// }
/// ```
///
/// Every cached function also has joblib's `MemorizedFunc` abilities,
/// through [`handle`](fn@handle): `memory::handle(|| f(1, 2)).call()`,
/// `.call_and_shelve()`, `.check_call_in_cache()`, `.clear()` — the same
/// for free functions and methods.
///
/// # Arguments
///
/// **`ignore = ["name", ...]`**: parameters that take no part in the key.
///
/// ```
/// # memory::set_default(memory::Memory::disabled()).unwrap();
/// #[memory::cache(ignore = ["verbose"])]
/// fn fit(data: Vec<f64>, verbose: bool) -> f64 {
///     if verbose { eprintln!("fitting {} points", data.len()); }
///     data.iter().sum::<f64>() / data.len() as f64
/// }
/// # assert_eq!(fit(vec![1.0, 3.0], false), 2.0);
/// ```
///
/// A name that is not a parameter is a compile error at that name:
///
/// ```compile_fail
/// #[memory::cache(ignore = ["verbos"])]
/// fn fit(data: Vec<f64>, verbose: bool) -> f64 { 0.0 }
/// ```
///
/// **`memory = STATIC`**: cache in this [`Memory`] instead of the process
/// default; any `'static` place that derefs to a `Memory` works.
///
/// ```
/// use std::sync::LazyLock;
/// use memory::Memory;
///
/// static RESULTS: LazyLock<Memory> =
///     LazyLock::new(|| Memory::new(std::env::temp_dir().join("memo-doc-results")));
///
/// #[memory::cache(memory = RESULTS)]
/// fn simulate(seed: u64) -> Vec<u64> {
///     (0..4).map(|i| seed.wrapping_mul(6364136223846793005).wrapping_add(i)).collect()
/// }
/// # assert_eq!(simulate(1).len(), 4);
/// ```
///
/// **`verbose = N`**: this function's trace level, overriding its `Memory`'s
/// (see [`Memory::verbose`]).
///
/// ```
/// # memory::set_default(memory::Memory::disabled()).unwrap();
/// #[memory::cache(verbose = 1)] // prints "[Memory] Calling ..." on every miss
/// fn train(epochs: u32) -> f64 {
///     1.0 / f64::from(epochs)
/// }
/// # assert_eq!(train(2), 0.5);
/// ```
///
/// **`name = "..."`**: an explicit identity instead of `crate::module::fn`,
/// e.g. to keep a cache when the function moves to another module. Two
/// functions of one identity in one scope are a compile error; elsewhere in
/// the program they are reported at the first cached call (see
/// [`registry`](fn@registry)) and their results kept apart.
///
/// ```
/// # memory::set_default(memory::Memory::disabled()).unwrap();
/// #[memory::cache(name = "experiments::baseline")]
/// fn baseline(n: u32) -> u32 {
///     n
/// }
/// # assert_eq!(baseline(3), 3);
/// ```
///
/// **`crate = path`**: where to find this crate, for crates that re-export
/// memo under another name.
///
/// ```
/// mod reexported {
///     pub mod cache_lib {
///         pub use memory::*;
///     }
/// }
///
/// #[memory::cache(crate = crate::reexported::cache_lib)]
/// fn double(x: u64) -> u64 {
///     x * 2
/// }
/// # fn main() {
/// #     memory::set_default(memory::Memory::disabled()).unwrap();
/// #     assert_eq!(double(2), 4);
/// # }
/// ```
///
/// **`depends_on = [path, ...]`**: functions (or `const`s and `static`s)
/// whose code this one depends on; editing one of them invalidates this
/// function's results too. Each must carry
/// [`#[memory::fingerprint]`](macro@fingerprint). Annotated functions that
/// run on the same thread during a miss are recorded without it (see the
/// guide's "What invalidates a result"); `depends_on` is for work on other
/// threads, constants and code that may not run.
///
/// ```
/// # memory::set_default(memory::Memory::disabled()).unwrap();
/// #[memory::fingerprint]
/// fn clean(text: &str) -> String {
///     text.trim().to_lowercase()
/// }
///
/// #[memory::cache(depends_on = [clean])]
/// fn word_count(text: String) -> usize {
///     clean(&text).split_whitespace().count()
/// }
/// # assert_eq!(word_count(" A b ".into()), 2);
/// ```
///
/// **`version = "..."`**: a manual bump: changing it invalidates the
/// function's results, as a code edit would.
///
/// ```
/// # memory::set_default(memory::Memory::disabled()).unwrap();
/// #[memory::cache(version = "2024-06")] // bumped when the input data changed
/// fn load(name: String) -> usize {
///     name.len()
/// }
/// # assert_eq!(load("a".into()), 1);
/// ```
///
/// **`ignore_code = true`**: the code fingerprint leaves the key and the
/// `version` decides: edits keep the results until the version changes
/// (without a version, edits never invalidate). memo still records the code
/// each result was computed by, and says at verbose ≥ 1 when it serves a
/// result computed by other code ("code changed since these results were
/// computed; kept by ignore_code, version 2"). Only the function's own code
/// leaves the key: `depends_on` still folds in, and recorded dependencies
/// (annotated functions it called) are still checked.
///
/// ```
/// # memory::set_default(memory::Memory::disabled()).unwrap();
/// #[memory::cache(version = "2", ignore_code = true)]
/// fn embed(text: String) -> usize {
///     text.len() // refactor freely: results stay until version "3"
/// }
/// # assert_eq!(embed("ab".into()), 2);
/// ```
///
/// **`wait_limit = "10min"`**: the longest a call waits while another
/// caller (thread or process) computes the same arguments, before computing
/// them itself and saying so; overrides the `Memory`'s
/// [`wait_limit`](Memory::wait_limit). Without one, a call waits as long as
/// the other caller lives (a caller that dies releases the key at once).
///
/// ```
/// # memory::set_default(memory::Memory::disabled()).unwrap();
/// #[memory::cache(wait_limit = "30s")]
/// fn render(page: u32) -> String {
///     format!("page {page}")
/// }
/// # assert_eq!(render(1), "page 1");
/// ```
///
/// **`expires_after = "30d"`**: results older than this are recomputed
/// (the grammar of `memo gc --age-limit`: units `ms`, `s`, `m`/`min`, `h`,
/// `d`, `w`, `y`, fractions and combinations such as `"2w"`, `"1.5h"`,
/// `"1h 30min"`; checked at compile time). **`validate = path`**: a `fn(&EntryInfo) -> bool` (joblib's
/// `cache_validation_callback`); an entry it rejects is recomputed.
///
/// ```
/// # memory::set_default(memory::Memory::disabled()).unwrap();
/// fn slow_enough(entry: &memory::EntryInfo) -> bool {
///     entry.duration.as_millis() > 10
/// }
///
/// #[memory::cache(expires_after = "12h", validate = slow_enough)]
/// fn forecast(city: String) -> f64 {
///     city.len() as f64
/// }
/// # assert_eq!(forecast("Oslo".into()), 4.0);
/// ```
///
/// **`mmap_mode = "r"`** or **`"c"`**: how [`Array`]s in this function's
/// outputs come back — memory-mapped read-only or copy-on-write — overriding
/// its `Memory`'s [`mmap_mode`](Memory::mmap_mode) (and its compression).
/// `"r+"` and `"w+"` are refused: no mode can write into the cache.
/// **`compress = LEVEL`**: store this function's outputs as zstd frames
/// (levels -7 to 22), overriding its `Memory`'s; together with `mmap_mode`
/// it is a compile error, since a compressed array cannot be mapped.
///
/// ```
/// # memory::set_default(memory::Memory::new(std::env::temp_dir().join("memo-doc-modes"))).unwrap();
/// use memory::Array;
///
/// #[memory::cache(mmap_mode = "c")]
/// fn noise(n: usize) -> Array<f32> {
///     (0..n).map(|i| (i as f32).sin()).collect()
/// }
///
/// #[memory::cache(compress = 3)]
/// fn report(n: usize) -> String {
///     "a very repetitive report. ".repeat(n)
/// }
///
/// let mut samples = noise(1 << 16);
/// samples.make_mut()[0] = 1.0; // a private map: the cache is untouched
/// assert_eq!(report(2).len(), 52);
/// # memory::default_memory().clear().unwrap();
/// ```
///
/// **`allow(warning, ...)`**: silences a compile-time warning for this
/// function: `unit_output` (it returns `()`), `all_ignored` (every parameter
/// is in `ignore`), `mut_argument` (a `&mut` parameter is in `ignore`),
/// `handle_argument` (a parameter looks like a `File`, a `Mutex`, ...).
///
/// ```
/// # memory::set_default(memory::Memory::disabled()).unwrap();
/// #[memory::cache(allow(unit_output))]
/// fn warm_up(model: String) {
///     let _ = model;
/// }
/// # warm_up("m".into());
/// ```
///
/// Anything but a function, and `const` or `extern` functions, are refused
/// at compile time:
///
/// ```compile_fail
/// #[memory::cache]
/// struct NotAFunction;
/// ```
#[doc(inline)]
pub use memo_macros::cache;

/// Makes a function's code fingerprint known to memo: editing it then
/// invalidates the results of the cached functions that called it.
///
/// - On a function — free, method, generic, `async`, nested — it records
///   the function in the cached function whose miss runs it, on the same
///   thread or inside the same future, at any depth; nothing has to be
///   listed. Outside a miss this costs one thread-local read per call.
/// - A free function (in a module or a function body) and a `const` or
///   `static` also export their fingerprint, so cached functions can list
///   them in `depends_on` (for work on other threads, and for constants,
///   whose reads cannot be recorded). The export is a hidden item of the
///   item's name in the type namespace, which every path or `use` that
///   reaches the item reaches too.
///
/// It takes `depends_on = [..]` and `version = "..."` like `#[cache]` (and
/// `crate = path`); on a cached function, give those to `#[cache]`.
///
/// ```
/// # memory::set_default(memory::Memory::disabled()).unwrap();
/// #[memory::fingerprint]
/// fn normalize(x: f64) -> f64 {
///     x / 100.0
/// }
///
/// #[memory::cache(depends_on = [normalize])]
/// fn score(x: f64) -> f64 {
///     normalize(x) * 2.0
/// }
/// # assert_eq!(score(50.0), 1.0);
/// ```
///
/// Recorded as it runs, with a constant folded in:
///
/// ```
/// # memory::set_default(memory::Memory::disabled()).unwrap();
/// #[memory::fingerprint]
/// const SCALE: f64 = 100.0;
///
/// struct Units;
///
/// impl Units {
///     #[memory::fingerprint(depends_on = [SCALE])]
///     fn normalize<T: Into<f64>>(&self, x: T) -> f64 {
///         x.into() / SCALE
///     }
/// }
///
/// #[memory::cache] // no `depends_on`: `normalize` is recorded
/// fn score(x: f64) -> f64 {
///     Units.normalize(x) * 2.0
/// }
/// # assert_eq!(score(50.0), 1.0);
/// ```
///
/// A dependency without it is a compile error at its name in the list:
///
/// ```compile_fail
/// fn normalize(x: f64) -> f64 { x / 100.0 }
///
/// #[memory::cache(depends_on = [normalize])]
/// fn score(x: f64) -> f64 { normalize(x) * 2.0 }
/// ```
#[doc(inline)]
pub use memo_macros::fingerprint;

mod access;
pub mod array;
mod call;
pub mod entry;
mod fingerprint;
mod function;
mod handle;
pub mod hash;
mod info;
mod key;
mod layout;
pub mod manage;
mod memory;
mod readable;
mod recorded;
mod registry;
mod render;
pub mod store;
mod sys;
mod trace;
mod usage;

pub use access::Access;
#[cfg(feature = "ndarray")]
pub use array::NdArray;
pub use array::{Array, Dtype, Element, MmapMode};
pub use call::{MissReason, Validator};
pub use handle::{Handle, MemorizedResult, handle};
pub use info::EntryInfo;
pub use memory::{CACHE_DIR_ENV, DEFAULT_DIR, Memory, VERBOSE_ENV, default_memory, set_default};
pub use registry::{RegisteredFn, registry};
pub use usage::MissKind;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

/// The README's and the guide's examples, compiled and run as doctests.
#[cfg(doctest)]
mod doc_examples {
    #[doc = include_str!("../../README.md")]
    struct Readme;

    #[doc = include_str!("../../docs/guide.md")]
    struct Guide;

    #[doc = include_str!("../../docs/why.md")]
    struct WhyDidMyCallMiss;

    #[doc = include_str!("../../docs/backends.md")]
    struct Backends;
}
