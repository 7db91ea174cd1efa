//! Not public API, used by code that `#[memory::cache]` generates.
//!
//! Everything the expansion names lives here, so the macro reaches the
//! runtime through one path (`::memory::__private`, or `$krate::__private`
//! with `#[cache(crate = path)]`). Nothing here is covered by semver.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::call::{Call, begin};
pub use crate::function::{CachedFn, FnSpec};
use crate::hash::{Digest, HashError};
use crate::memory::Memory;

/// One argument of a cached call, type-erased so a call passes any number of
/// them as `&[&dyn Arg]`.
pub trait Arg {
    /// The canonical digest of the argument.
    fn digest(&self) -> Result<Digest, HashError>;
    /// A readable rendering, for metadata and the verbose trace.
    fn render(&self, limit: usize, out: &mut String);
}

impl<T: Serialize + ?Sized> Arg for T {
    fn digest(&self) -> Result<Digest, HashError> {
        crate::hash::digest(self)
    }

    fn render(&self, limit: usize, out: &mut String) {
        crate::render::render(self, limit, out);
    }
}

/// Resolves `memory = EXPR`: a `&'static` place that derefs to a [`Memory`].
pub type MemorySource = fn() -> &'static Memory;

/// Chooses how a function's output is stored, by autoref specialization on
/// the return type: `Result<T, E>` stores only `Ok(T)`; anything else is
/// stored as it is. Generated code calls
/// `(&&Output::of(&body)).finish(call, body)`.
pub struct Output<R>(PhantomData<fn() -> R>);

impl<R> Output<R> {
    /// The output probe for a body closure.
    pub fn of<F: FnOnce() -> R>(_body: &F) -> Self {
        Output(PhantomData)
    }
}

/// Stores the output as it is (lower priority: one autoref less).
pub trait FinishValue<R> {
    /// Finishes the call: a hit returns the stored value, a miss runs `body`.
    fn finish<F: FnOnce() -> R>(self, call: Call, body: F) -> R;
}

impl<R: Serialize + DeserializeOwned> FinishValue<R> for &Output<R> {
    fn finish<F: FnOnce() -> R>(self, call: Call, body: F) -> R {
        call.finish_value(body)
    }
}

/// Stores `Ok` values only; an `Err` is returned and never cached.
pub trait FinishResult<T, E> {
    /// Finishes the call: a hit returns `Ok(stored)`, a miss runs `body`.
    fn finish<F: FnOnce() -> Result<T, E>>(self, call: Call, body: F) -> Result<T, E>;
}

impl<T: Serialize + DeserializeOwned, E> FinishResult<T, E> for &&Output<Result<T, E>> {
    fn finish<F: FnOnce() -> Result<T, E>>(self, call: Call, body: F) -> Result<T, E> {
        call.finish_ok(body)
    }
}
