//! How the expansion picks [`Stored`] for a function's return type:
//! autoref specialization, since a `Result` must store only its `Ok` value
//! and stable Rust has no impl specialization. Generated code calls
//! `(&&Output::<R>::NEW).lookup(&FUNCTION, type_args, args)` and, on a
//! miss, runs the body and calls `(&&Output::<R>::NEW).complete(run,
//! output)` (an `async fn`: `(&&Output::of_future(&body)).finish_async(call,
//! body)`); method lookup takes the `&&Output<Result<T, E>>` impl when it
//! applies, else the `&Output<R>` one. None of these is generic over the
//! body of a sync function: what they instantiate (`stored.rs`'s glue and
//! the type's serde code) is shared by every function of one output type.

use std::future::Future;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::stored::{self, AsIs, OkOnly};
use super::{Arg, Call, Run};
use crate::function::CachedFn;

/// The return type of a body, known to the compiler, carried as a value.
pub struct Output<R>(PhantomData<fn() -> R>);

impl<R> Output<R> {
    /// The output probe of a function returning `R`.
    pub const NEW: Self = Output(PhantomData);

    /// The output probe for an `async` body.
    pub fn of_future<F: Future<Output = R>>(_body: &F) -> Self {
        Output(PhantomData)
    }
}

/// Pins an `async` body's output type to the function's return type, so a
/// `return` of the wrong type is an error at the user's `return`.
#[inline]
pub fn typed<R, F: Future<Output = R>>(body: F) -> F {
    body
}

/// Stores the output as it is (lower priority: one autoref less).
pub trait FinishValue<R> {
    /// Starts a call of `function` and looks it up (see `begin` in
    /// `call.rs`): a hit returns the stored value; on a miss the caller
    /// runs the body and hands its output to [`FinishValue::complete`].
    fn lookup(
        self,
        function: &'static CachedFn,
        type_args: &[&'static str],
        args: &[&dyn Arg],
    ) -> Result<R, Run>;
    /// Stores the output of the body that [`FinishValue::lookup`] asked for.
    fn complete(self, run: Run, output: R) -> R;
    /// Finishes the call of an `async fn`: a miss awaits `body`.
    fn finish_async<F: Future<Output = R>>(self, call: Call, body: F) -> impl Future<Output = R>;
}

impl<R: Serialize + DeserializeOwned> FinishValue<R> for &Output<R> {
    fn lookup(
        self,
        function: &'static CachedFn,
        type_args: &[&'static str],
        args: &[&dyn Arg],
    ) -> Result<R, Run> {
        stored::lookup::<AsIs<R>>(function, type_args, args)
    }

    fn complete(self, run: Run, output: R) -> R {
        stored::complete::<AsIs<R>>(run, output)
    }

    fn finish_async<F: Future<Output = R>>(self, call: Call, body: F) -> impl Future<Output = R> {
        call.finish_async::<AsIs<R>, F>(body)
    }
}

/// Stores `Ok` values only; an `Err` is returned and never cached.
pub trait FinishResult<T, E> {
    /// Starts a call of `function` and looks it up (see `begin` in
    /// `call.rs`): a hit returns `Ok(stored)`; on a miss the caller runs
    /// the body and hands its output to [`FinishResult::complete`].
    #[allow(clippy::missing_errors_doc, reason = "the error is the body's")]
    fn lookup(
        self,
        function: &'static CachedFn,
        type_args: &[&'static str],
        args: &[&dyn Arg],
    ) -> Result<Result<T, E>, Run>;
    /// Stores the output of the body that [`FinishResult::lookup`] asked
    /// for, if it is `Ok`.
    #[allow(clippy::missing_errors_doc, reason = "the error is the body's")]
    fn complete(self, run: Run, output: Result<T, E>) -> Result<T, E>;
    /// Finishes the call of an `async fn`: a miss awaits `body`.
    fn finish_async<F: Future<Output = Result<T, E>>>(
        self,
        call: Call,
        body: F,
    ) -> impl Future<Output = Result<T, E>>;
}

impl<T: Serialize + DeserializeOwned, E> FinishResult<T, E> for &&Output<Result<T, E>> {
    fn lookup(
        self,
        function: &'static CachedFn,
        type_args: &[&'static str],
        args: &[&dyn Arg],
    ) -> Result<Result<T, E>, Run> {
        stored::lookup::<OkOnly<T, E>>(function, type_args, args)
    }

    fn complete(self, run: Run, output: Result<T, E>) -> Result<T, E> {
        stored::complete::<OkOnly<T, E>>(run, output)
    }

    fn finish_async<F: Future<Output = Result<T, E>>>(
        self,
        call: Call,
        body: F,
    ) -> impl Future<Output = Result<T, E>> {
        call.finish_async::<OkOnly<T, E>, F>(body)
    }
}
