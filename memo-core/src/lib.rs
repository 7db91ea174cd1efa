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
/// e.g. to keep a cache when the function moves to another module.
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
/// Anything but a function, and `const` or `extern` functions, are refused
/// at compile time:
///
/// ```compile_fail
/// #[memory::cache]
/// struct NotAFunction;
/// ```
#[doc(inline)]
pub use memo_macros::cache;

mod access;
pub mod array;
mod call;
pub mod entry;
mod function;
pub mod hash;
mod info;
mod key;
mod memory;
mod render;
mod store;
mod trace;

pub use access::Access;
pub use array::{Array, Dtype, Element, MmapMode};
pub use info::EntryInfo;
pub use memory::{CACHE_DIR_ENV, DEFAULT_DIR, Memory, default_memory, set_default};

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
}
