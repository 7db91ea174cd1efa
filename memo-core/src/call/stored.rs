//! What of a function's output is stored, and how a stored value becomes
//! an output again: one trait, chosen by the output type (see `output.rs`).
//!
//! The call path itself never names the output type: it decodes into a
//! [`OutputSlot`] and stores an [`Encode`], both `dyn`. So what a crate compiles
//! per output type is this file's glue and the type's own serde code, not
//! the lookup, the miss, the metadata or the store, which are compiled
//! once, in memo-core.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::async_call::AsyncRun;
use super::{Arg, Run};
use crate::entry::DecodeOutput;
use crate::function::CachedFn;
use crate::recorded::Ran;

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

/// Where the call path puts a stored value it decodes, the output type
/// erased. An entry decodes into it as [`DecodeOutput`].
pub(crate) trait OutputSlot: DecodeOutput {
    /// `type_name` of what the function returns (a handle's probe
    /// compares it with its closure's).
    fn returns(&self) -> &'static str;
    /// `type_name` of what is stored: an entry of another stored type is
    /// not decoded.
    fn stored_type(&self) -> &'static str;
}

/// A value to store, its type erased.
pub(crate) trait Encode {
    /// Appends the value to `out` as MessagePack, structs as maps.
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), rmp_serde::encode::Error>;
}

impl<T: Serialize> Encode for T {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), rmp_serde::encode::Error> {
        rmp_serde::encode::write_named(out, self)
    }
}

/// The [`OutputSlot`] of a function whose outputs are stored as `K` says.
pub(crate) struct Decoded<K: Stored>(Option<K::Value>);

impl<K: Stored> OutputSlot for Decoded<K> {
    fn returns(&self) -> &'static str {
        std::any::type_name::<K::Output>()
    }

    fn stored_type(&self) -> &'static str {
        std::any::type_name::<K::Value>()
    }
}

impl<K: Stored> DecodeOutput for Decoded<K> {
    fn decode_output(&mut self, msgpack: &[u8]) -> Result<(), rmp_serde::decode::Error> {
        self.0.decode_output(msgpack)
    }
}

impl<K: Stored> Decoded<K> {
    /// An empty slot.
    pub(crate) fn new() -> Self {
        Decoded(None)
    }

    /// The output a hit decoded.
    pub(crate) fn output(self) -> K::Output {
        K::rebuild(self.0.expect("a hit decodes into the slot"))
    }

    /// What a miss returns: the body's `output`, or, when the stored
    /// entry was reloaded into the slot (arrays mapped), that.
    pub(crate) fn or(self, output: K::Output) -> K::Output {
        self.0.map_or(output, K::rebuild)
    }
}

/// What of `output` is stored, as the call path takes it.
pub(crate) fn kept<'a, K: Stored>(output: &'a K::Output) -> Option<&'a dyn Encode>
where
    K::Value: 'a,
{
    K::kept(output).map(|value| value as &dyn Encode)
}

/// [`begin`](super::begin) for outputs stored as `K`: a hit returns the
/// output; on a miss the caller runs the body and hands its output to
/// [`complete`].
pub(crate) fn lookup<K: Stored>(
    function: &'static CachedFn,
    type_args: &[&'static str],
    args: &[&dyn Arg],
) -> Result<K::Output, Run> {
    let mut slot = Decoded::<K>::new();
    super::begin(function, type_args, args, &mut slot)?;
    Ok(slot.output())
}

/// [`Run::complete`] for outputs stored as `K`: stores what `K` keeps of
/// the body's `output` and returns the output.
pub(crate) fn complete<K: Stored>(run: Run, output: K::Output) -> K::Output {
    let mut slot = Decoded::<K>::new();
    run.complete(kept::<K>(&output), &mut slot);
    slot.or(output)
}

/// [`complete`] for an `async fn`: `ran` is what its recorded body
/// returned (see `async_call.rs`).
pub(crate) fn complete_async<K: Stored>(run: AsyncRun, ran: Ran<K::Output>) -> K::Output {
    let mut slot = Decoded::<K>::new();
    run.complete(kept::<K>(&ran.output), &mut slot, &ran.deps);
    slot.or(ran.output)
}
