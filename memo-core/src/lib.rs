//! memo: on-disk memoization.

pub use memo_macros::cache;

mod call;
pub mod entry;
mod function;
pub mod hash;
mod key;
mod memory;
mod render;
mod store;
mod trace;

pub use memory::{CACHE_DIR_ENV, DEFAULT_DIR, Memory, default_memory, set_default};

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
