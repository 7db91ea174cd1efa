//! What of a function's output is stored, and how a stored value becomes
//! an output again: one trait, chosen by the output type (see `output.rs`).

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// How a function's output is stored.
pub(crate) trait Stored {
    /// What the function returns.
    type Output;
    /// What goes into the entry.
    type Value: Serialize + DeserializeOwned;
    /// The part of `output` to store; `None` stores nothing.
    fn kept(output: &Self::Output) -> Option<&Self::Value>;
    /// Turns a stored value back into an output.
    fn rebuild(value: Self::Value) -> Self::Output;
}

/// Stores the output as it is.
pub(crate) struct AsIs<R>(PhantomData<fn() -> R>);

impl<R: Serialize + DeserializeOwned> Stored for AsIs<R> {
    type Output = R;
    type Value = R;

    fn kept(output: &R) -> Option<&R> {
        Some(output)
    }

    fn rebuild(value: R) -> R {
        value
    }
}

/// Stores `Ok` values only: an `Err` is returned and never cached.
pub(crate) struct OkOnly<T, E>(PhantomData<fn() -> (T, E)>);

impl<T: Serialize + DeserializeOwned, E> Stored for OkOnly<T, E> {
    type Output = Result<T, E>;
    type Value = T;

    fn kept(output: &Result<T, E>) -> Option<&T> {
        output.as_ref().ok()
    }

    fn rebuild(value: T) -> Result<T, E> {
        Ok(value)
    }
}
