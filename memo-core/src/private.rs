//! Not public API, used by code that `#[memory::cache]` generates.
//!
//! Everything the expansion names lives here, so the macro reaches the
//! runtime through one path (`::memory::__private`, or `$krate::__private`
//! with `#[cache(crate = path)]`). Nothing here is covered by semver.

use std::future::Future;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::call::probe::{self, Probe, Probed};
pub use crate::function::{CachedFn, FnSpec};
use crate::hash::{Digest, HashError};
use crate::memory::Memory;
pub use crate::registry::Registration;
pub use inventory;

/// A cached call between the lookup and the result.
pub struct Call {
    inner: crate::call::Call,
    /// Set when a [`Handle`](crate::Handle) made this call.
    probed: Option<Probed>,
}

/// Starts a cached call: hashes `args` and looks the key up.
///
/// `type_args` holds `type_name::<T>()` for each type parameter of a generic
/// function (and first, for a method, of `Self`), so each instantiation has
/// its own entries; it is empty for ordinary functions.
#[inline]
pub fn begin(function: &'static CachedFn, type_args: &[&'static str], args: &[&dyn Arg]) -> Call {
    match probe::take() {
        None => Call {
            inner: crate::call::begin(function, type_args, args),
            probed: None,
        },
        Some(probe) => probed(probe, function, type_args, args),
    }
}

/// [`begin`] for an `async fn`: it never waits for another caller computing
/// the same key (that wait happens off the executor, in `finish_async`).
#[inline]
pub fn begin_async(
    function: &'static CachedFn,
    type_args: &[&'static str],
    args: &[&dyn Arg],
) -> Call {
    match probe::take() {
        None => Call {
            inner: crate::call::begin_resolved(function.resolve(type_args), type_args, args, false),
            probed: None,
        },
        Some(probe) => probed(probe, function, type_args, args),
    }
}

#[cold]
fn probed(
    probe: Probe,
    function: &'static CachedFn,
    type_args: &[&'static str],
    args: &[&dyn Arg],
) -> Call {
    let (inner, probed) = probe::begin(probe, function, type_args, args);
    Call {
        inner,
        probed: Some(probed),
    }
}

impl Call {
    fn finish<R, S, F>(self, body: F, storable: fn(&R) -> Option<&S>, rebuild: fn(S) -> R) -> R
    where
        S: Serialize + DeserializeOwned,
        F: FnOnce() -> R,
    {
        match self.probed {
            None => self.inner.finish(body, storable, rebuild),
            Some(probed) => probe::finish(self.inner, probed, body, storable, rebuild),
        }
    }

    async fn finish_async<R, S, F>(
        self,
        body: F,
        storable: fn(&R) -> Option<&S>,
        rebuild: fn(S) -> R,
    ) -> R
    where
        S: Serialize + DeserializeOwned,
        F: Future<Output = R>,
    {
        match self.probed {
            None => self.inner.finish_async(body, storable, rebuild).await,
            Some(probed) => probe::finish_async(self.inner, probed, body, storable, rebuild).await,
        }
    }
}

fn stored_as_is<R>(output: &R) -> Option<&R> {
    Some(output)
}

fn stored_if_ok<T, E>(output: &Result<T, E>) -> Option<&T> {
    output.as_ref().ok()
}

fn identity<R>(output: R) -> R {
    output
}

/// Pins an `async` body's output type to the function's return type, so a
/// `return` of the wrong type is an error at the user's `return`.
#[inline]
pub fn typed<R, F: Future<Output = R>>(body: F) -> F {
    body
}

/// Folds the fingerprints of `depends_on` functions into a function's own
/// (order does not matter; a dependency listed twice counts twice).
pub const fn fold_fingerprints(own: u128, dependencies: &[u128]) -> u128 {
    let mut folded = own;
    let mut at = 0;
    while at < dependencies.len() {
        folded = folded.wrapping_add(mix(dependencies[at]));
        at += 1;
    }
    if dependencies.is_empty() {
        own
    } else {
        mix(folded ^ 0x6d656d6f_64657073)
    }
}

/// A bijective 128-bit mixer (xorshift-multiply rounds).
const fn mix(mut x: u128) -> u128 {
    x ^= x >> 67;
    x = x.wrapping_mul(0x2d35_8dcc_aa6c_78a5_9e37_79b9_7f4a_7c15);
    x ^= x >> 59;
    x = x.wrapping_mul(0x9fb2_1c65_1e98_df25_d6e8_feb8_6659_fd93);
    x ^ (x >> 71)
}

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

    /// The output probe for an `async` body.
    pub fn of_future<F: Future<Output = R>>(_body: &F) -> Self {
        Output(PhantomData)
    }
}

/// Stores the output as it is (lower priority: one autoref less).
pub trait FinishValue<R> {
    /// Finishes the call: a hit returns the stored value, a miss runs `body`.
    fn finish<F: FnOnce() -> R>(self, call: Call, body: F) -> R;
    /// Finishes the call of an `async fn`: a miss awaits `body`.
    fn finish_async<F: Future<Output = R>>(self, call: Call, body: F) -> impl Future<Output = R>;
}

impl<R: Serialize + DeserializeOwned> FinishValue<R> for &Output<R> {
    fn finish<F: FnOnce() -> R>(self, call: Call, body: F) -> R {
        call.finish(body, stored_as_is, identity)
    }

    fn finish_async<F: Future<Output = R>>(self, call: Call, body: F) -> impl Future<Output = R> {
        call.finish_async(body, stored_as_is, identity)
    }
}

/// Stores `Ok` values only; an `Err` is returned and never cached.
pub trait FinishResult<T, E> {
    /// Finishes the call: a hit returns `Ok(stored)`, a miss runs `body`.
    fn finish<F: FnOnce() -> Result<T, E>>(self, call: Call, body: F) -> Result<T, E>;
    /// Finishes the call of an `async fn`: a miss awaits `body`.
    fn finish_async<F: Future<Output = Result<T, E>>>(
        self,
        call: Call,
        body: F,
    ) -> impl Future<Output = Result<T, E>>;
}

impl<T: Serialize + DeserializeOwned, E> FinishResult<T, E> for &&Output<Result<T, E>> {
    fn finish<F: FnOnce() -> Result<T, E>>(self, call: Call, body: F) -> Result<T, E> {
        call.finish(body, stored_if_ok, Ok)
    }

    fn finish_async<F: Future<Output = Result<T, E>>>(
        self,
        call: Call,
        body: F,
    ) -> impl Future<Output = Result<T, E>> {
        call.finish_async(body, stored_if_ok, Ok)
    }
}
