//! How the expansion picks `Stored` for a function's return type:
//! autoref specialization, since a `Result` must store only its `Ok` value
//! and stable Rust has no impl specialization. Generated code calls
//! `(&&Output::<R>::NEW).lookup(&FUNCTION, type_args, args)` and, on a
//! miss, runs the body and calls `(&&Output::<R>::NEW).complete(run,
//! output)` (an `async fn`: `lookup_async(call).await`, and on a miss
//! `complete_async(run, run.record(body).await)`); method lookup takes the
//! `&&Output<Result<T, E>>` impl when it applies, else the `&Output<R>`
//! one. None of these is generic over the body: what they instantiate
//! (`stored.rs`'s glue, `lookup_async`, and the type's serde code) is shared
//! by every function of one output type.

use std::future::Future;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::async_call::AsyncRun;
use super::stored::{self, AsIs, OkOnly};
use super::{Arg, Call, Run};
use crate::function::CachedFn;
use crate::recorded::Ran;

/// The return type of a body, known to the compiler, carried as a value.
pub struct Output<R>(PhantomData<fn() -> R>);

impl<R> Output<R> {
    /// The output probe of a function returning `R`.
    pub const NEW: Self = Output(PhantomData);
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
    /// Looks up the call of an `async fn` that `begin_async` started: a
    /// hit returns the stored value; on a miss the caller awaits its body
    /// through [`AsyncRun::record`] and hands what it returns to
    /// [`FinishValue::complete_async`].
    fn lookup_async(self, call: Call) -> impl Future<Output = Result<R, AsyncRun>>;
    /// Stores the output of the body that [`FinishValue::lookup_async`]
    /// asked for.
    fn complete_async(self, run: AsyncRun, ran: Ran<R>) -> R;
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

    fn lookup_async(self, call: Call) -> impl Future<Output = Result<R, AsyncRun>> {
        call.lookup_async::<AsIs<R>>()
    }

    fn complete_async(self, run: AsyncRun, ran: Ran<R>) -> R {
        stored::complete_async::<AsIs<R>>(run, ran)
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
    /// Looks up the call of an `async fn` that `begin_async` started: a
    /// hit returns `Ok(stored)`; on a miss the caller awaits its body
    /// through [`AsyncRun::record`] and hands what it returns to
    /// [`FinishResult::complete_async`].
    #[allow(clippy::missing_errors_doc, reason = "the error is the body's")]
    fn lookup_async(self, call: Call) -> impl Future<Output = Result<Result<T, E>, AsyncRun>>;
    /// Stores the output of the body that [`FinishResult::lookup_async`]
    /// asked for, if it is `Ok`.
    #[allow(clippy::missing_errors_doc, reason = "the error is the body's")]
    fn complete_async(self, run: AsyncRun, ran: Ran<Result<T, E>>) -> Result<T, E>;
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

    fn lookup_async(self, call: Call) -> impl Future<Output = Result<Result<T, E>, AsyncRun>> {
        call.lookup_async::<OkOnly<T, E>>()
    }

    fn complete_async(self, run: AsyncRun, ran: Ran<Result<T, E>>) -> Result<T, E> {
        stored::complete_async::<OkOnly<T, E>>(run, ran)
    }
}
