//! Cached functions of every kind, compiled under clippy's pedantic lints:
//! what `#[memory::cache]` generates must not trip them. CI lints this
//! crate with `cargo clippy --workspace --all-targets -- -D warnings`; a
//! lint that fires inside an expansion fails it.
//!
//! It guards in particular clippy's `unsafe_derive_deserialize`, which
//! fires on a `#[derive(Deserialize)]` type whose `impl` holds `unsafe`
//! code: the registration of cached methods must not put any there.

#![deny(clippy::all, clippy::pedantic)]

use serde::{Deserialize, Serialize};

/// A cached free function.
#[memory::cache]
#[must_use]
pub fn square(x: u64) -> u64 {
    x * x
}

/// A cached function that returns a `Result`: only `Ok` is stored.
///
/// # Errors
///
/// When `x` is odd.
#[memory::cache(name = "lint_clean::halve", expires_after = "2w")]
pub fn halve(x: u64) -> Result<u64, String> {
    if x.is_multiple_of(2) {
        Ok(x / 2)
    } else {
        Err(format!("{x} is odd"))
    }
}

/// A type that derives `Deserialize` and has cached methods.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grid {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl Grid {
    /// A cached method.
    #[memory::cache]
    #[must_use]
    pub fn area(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// An annotated helper method, recorded by the cached functions that
    /// call it: its registration puts no `unsafe` code in the `impl`.
    #[memory::fingerprint]
    #[must_use]
    pub fn perimeter(&self) -> u64 {
        2 * (u64::from(self.width) + u64::from(self.height))
    }

    /// An annotated generic `async` helper method.
    #[memory::fingerprint]
    pub async fn scaled<T: Into<u64>>(&self, by: T) -> u64 {
        std::future::ready(self.perimeter()).await * by.into()
    }

    /// A cached associated function naming `Self`.
    #[memory::cache]
    #[must_use]
    pub fn square_of(side: u32) -> Self {
        Grid {
            width: side,
            height: side,
        }
    }
}

/// Functions nested in another one.
#[must_use]
pub fn nested(x: u64) -> u64 {
    #[memory::cache]
    fn inner(x: u64) -> u64 {
        x + 1
    }
    #[memory::cache(ignore = ["verbose"])]
    fn quiet(x: u64, verbose: bool) -> u64 {
        if verbose { x } else { x + 2 }
    }
    inner(x) + quiet(x, false)
}

/// An annotated constant, and a helper that reads it.
#[memory::fingerprint]
pub const LIMIT: u64 = 10;

/// Reads [`LIMIT`].
#[memory::fingerprint(depends_on = [LIMIT])]
#[must_use]
pub fn limited(x: u64) -> u64 {
    x.min(LIMIT)
}
