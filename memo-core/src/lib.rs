//! memo: on-disk memoization.

pub use memo_macros::cache;

mod call;
mod function;
pub mod hash;
mod key;
mod memory;
mod render;

pub use memory::Memory;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
