//! How the expansion picks [`Stored`] for a function's return type:
//! autoref specialization, since a `Result` must store only its `Ok` value
//! and stable Rust has no impl specialization. Generated code calls
//! `(&&Output::of(&body)).finish(call, body)`; method lookup takes the
//! `&&Output<Result<T, E>>` impl when it applies, else the `&Output<R>` one.

use std::future::Future;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Call;
use super::stored::{AsIs, OkOnly};

/// The return type of a body, known to the compiler, carried as a value.
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

/// Pins an `async` body's output type to the function's return type, so a
/// `return` of the wrong type is an error at the user's `return`.
#[inline]
pub fn typed<R, F: Future<Output = R>>(body: F) -> F {
    body
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
        call.finish::<AsIs<R>, F>(body)
    }

    fn finish_async<F: Future<Output = R>>(self, call: Call, body: F) -> impl Future<Output = R> {
        call.finish_async::<AsIs<R>, F>(body)
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
        call.finish::<OkOnly<T, E>, F>(body)
    }

    fn finish_async<F: Future<Output = Result<T, E>>>(
        self,
        call: Call,
        body: F,
    ) -> impl Future<Output = Result<T, E>> {
        call.finish_async::<OkOnly<T, E>, F>(body)
    }
}
