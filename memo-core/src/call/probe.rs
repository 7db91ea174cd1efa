//! Calls made through a [`Handle`](crate::Handle): joblib's `MemorizedFunc`
//! abilities (`call`, `call_and_shelve`, `check_call_in_cache`, `clear`)
//! applied to one call of a cached function.
//!
//! A handle runs the call it was given with a *probe* set on its thread.
//! The first cached call that begins on that thread takes the probe and
//! behaves as the handle asked: recompute, or report where its entry is,
//! or whether it has one, without running the body. Where no output can be
//! returned (the body must not run), the call ends by unwinding with a
//! private payload, which the handle catches before it reaches the caller:
//! the unwind starts before the body and crosses only the generated
//! prologue of the cached function and the handle's own closure (as
//! salsa's cancellation does). Those two abilities need `panic = "unwind"`
//! (the default); with `panic = "abort"` they are not compiled.

use std::cell::Cell;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Call, Found, Missing, State, Target, read_entry};
use crate::__private::Arg;
use crate::entry::{self, Entry, EntryMeta};
use crate::function::CachedFn;
use crate::hash::Digest;
use crate::info::EntryInfo;
use crate::memory::Memory;

/// What a handle asks of the call it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Run the body whatever is stored, and store its output.
    Recompute,
    /// Make sure the output is stored (computing it if needed), without
    /// decoding a stored one.
    Shelve,
    /// Say whether a usable entry is stored; never run the body.
    Check,
    /// Say which function this is; never hash, look up or run.
    Identify,
}

/// Where a probed call's entry is.
#[derive(Debug, Clone)]
pub(crate) struct Shelf {
    pub memory: &'static Memory,
    pub path: String,
    pub key: Digest,
}

/// What a probed call reports back to its handle.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// The function the call resolved to.
    pub function: Option<&'static CachedFn>,
    /// Its entry, when the `Memory` stores anything.
    pub shelf: Option<Shelf>,
    /// For [`Mode::Check`]: whether a usable entry is stored.
    pub hit: bool,
    /// The probe ended the call by unwinding.
    pub unwound: bool,
}

/// A probe: set on a thread by a handle, taken by the next cached call.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    pub mode: Mode,
    pub outcome: Arc<Mutex<Outcome>>,
}

impl Probe {
    pub(crate) fn new(mode: Mode) -> Probe {
        Probe {
            mode,
            outcome: Arc::new(Mutex::new(Outcome::default())),
        }
    }

    fn report(&self, update: impl FnOnce(&mut Outcome)) {
        update(&mut self.outcome.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Ends the call without an output; the handle catches this.
    #[cfg(panic = "unwind")]
    fn unwind(&self) -> ! {
        self.report(|outcome| outcome.unwound = true);
        std::panic::resume_unwind(Box::new(ProbeDone))
    }

    #[cfg(not(panic = "unwind"))]
    fn unwind(&self) -> ! {
        unreachable!("handles that end calls early are not compiled with panic = \"abort\"")
    }
}

/// The unwind payload that ends a probed call.
pub(crate) struct ProbeDone;

thread_local! {
    static PROBE: Cell<Option<Probe>> = const { Cell::new(None) };
}

/// Sets `probe` for the next cached call on this thread; returns what was
/// set before (to restore it).
pub(crate) fn set(probe: Option<Probe>) -> Option<Probe> {
    PROBE.with(|slot| slot.replace(probe))
}

/// Takes the probe of this thread, if a handle set one.
#[inline]
pub(crate) fn take() -> Option<Probe> {
    PROBE.with(Cell::take)
}

/// Begins a cached call the way `probe` asks. `wait` is whether the call
/// may wait for another caller computing the same key (not from async
/// code, which waits on its own terms).
pub(crate) fn begin(
    probe: &Probe,
    function: &'static CachedFn,
    type_args: &[&'static str],
    args: &[&dyn Arg],
    wait: bool,
) -> Call {
    let function = function.resolve(type_args);
    probe.report(|outcome| outcome.function = Some(function));
    match probe.mode {
        Mode::Identify => probe.unwind(),
        // Whether an entry is there is a question for now: no waiting.
        Mode::Check => super::begin_resolved(function, type_args, args, false),
        Mode::Recompute | Mode::Shelve => super::begin_resolved(function, type_args, args, wait),
    }
}

impl Call {
    /// Where this call's entry is, if it has one.
    fn shelf(&self) -> Option<Shelf> {
        let target = match &self.state {
            State::Uncached => return None,
            State::Found(found) => &found.target,
            State::Missing(missing) => &missing.target,
        };
        Some(Shelf {
            memory: target.memory,
            path: target.path.clone(),
            key: target.key,
        })
    }

    /// Applies `probe` before the output is decoded or computed: a check
    /// ends here, a shelved hit ends here, a recomputation drops the
    /// stored entry. Returns the call to finish as usual.
    pub(crate) fn probed<S: DeserializeOwned>(self, probe: &Probe) -> Call {
        let shelf = self.shelf();
        probe.report(|outcome| outcome.shelf = shelf);
        match (probe.mode, self.state) {
            (Mode::Check, state) => {
                let hit = matches!(&state, State::Found(found) if found.holds::<S>());
                probe.report(|outcome| outcome.hit = hit);
                probe.unwind()
            }
            (Mode::Shelve, State::Found(found)) if found.holds::<S>() && cfg!(panic = "unwind") => {
                probe.unwind()
            }
            (Mode::Recompute, State::Found(found)) => Call {
                state: State::Missing(found.recompute()),
            },
            (_, state) => Call { state },
        }
    }
}

impl Found {
    /// Whether the entry holds an output of type `S`.
    fn holds<S>(&self) -> bool {
        self.entry().type_hash() == entry::type_hash(std::any::type_name::<S>())
    }

    /// A fresh entry that a handle asked to recompute.
    fn recompute(self) -> Missing {
        if let Some(store) = self.target.memory.store() {
            store.rejected(&self.target.path);
        }
        // Same key, same arguments: the old metadata renders this call.
        let meta: Option<EntryMeta> = self.entry().meta().ok();
        let (call, args, type_args) = match meta {
            Some(meta) => (meta.call, meta.args, meta.type_args),
            None => (
                format!("{}(…)", self.target.function.spec.name),
                Vec::new(),
                Vec::new(),
            ),
        };
        Missing {
            target: self.target,
            call,
            args,
            type_args,
            _lock: None,
        }
    }
}

/// An entry a handle read back.
pub(crate) struct ShelfEntry(Found);

/// Reads what is stored at `shelf`: its metadata, and the entry for a
/// decode. `None` when nothing usable is there (any more).
pub(crate) fn read_shelf(function: &'static CachedFn, shelf: &Shelf) -> Option<ShelfEntry> {
    let store = shelf.memory.store()?;
    let target = Target {
        function,
        memory: shelf.memory,
        key: shelf.key,
        path: shelf.path.clone(),
    };
    read_entry(store, target, false).ok().map(ShelfEntry)
}

impl ShelfEntry {
    /// The stored call's metadata.
    pub(crate) fn info(&self) -> Option<EntryInfo> {
        let meta = self.0.entry().meta().ok()?;
        Some(EntryInfo::from_meta(&meta, self.0.stored.len))
    }

    /// Decodes the stored output as `T`, checking it was stored as `T`.
    pub(crate) fn output<T: DeserializeOwned>(&self) -> Result<T, String> {
        let wanted = std::any::type_name::<T>();
        let entry: Entry<'_> = self.0.entry();
        if entry.type_hash() != entry::type_hash(wanted) {
            let stored_as = entry
                .meta()
                .map(|meta| meta.output_type)
                .unwrap_or_else(|_| "another type".to_owned());
            return Err(format!("the output is stored as {stored_as}, not {wanted}"));
        }
        entry
            .output_from(
                self.0.stored.file.as_ref(),
                self.0.target.function.array_mode(self.0.target.memory),
            )
            .map_err(|e| format!("the output does not decode as {wanted} ({e})"))
    }
}

/// Runs `body` as a probed call's body would: used by [`Call::finish`]'s
/// callers to finish a probed call.
pub(crate) fn finish<R, S, F>(
    call: Call,
    probe: &Probe,
    body: F,
    storable: fn(&R) -> Option<&S>,
    rebuild: fn(S) -> R,
) -> R
where
    S: Serialize + DeserializeOwned,
    F: FnOnce() -> R,
{
    call.probed::<S>(probe).finish(body, storable, rebuild)
}
