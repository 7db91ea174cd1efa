//! Calls made through a [`Handle`](crate::Handle): joblib's `MemorizedFunc`
//! abilities (`call`, `call_and_shelve`, `check_call_in_cache`, `clear`)
//! applied to one call of a cached function.
//!
//! A handle runs the call it was given with a *probe* set on its thread.
//! A cached call that begins on that thread takes the probe while it runs
//! (so calls made from inside its body never see it). Once its output type
//! is known, it compares it with the type the handle's closure returns:
//! a call of another type (one in the arguments, say) runs as usual and
//! puts the probe back. A call of the closure's type acts as the handle
//! asked, and puts the probe back too: the last such call to begin — the
//! outermost, in `f(g(1))` — is the one the handle reports on. So a stored
//! call the handle only asks about is decoded (not run) and the closure
//! goes on; a call that is not stored, which must not run, ends by
//! unwinding with a private payload that the handle catches before it
//! reaches the caller: the unwind starts before the body and crosses only
//! the generated prologue of the cached function and the handle's own
//! closure (as salsa's cancellation does). That ability needs
//! `panic = "unwind"` (the default); with `panic = "abort"` it is not
//! compiled.

use std::cell::Cell;
use std::sync::{Arc, Mutex, PoisonError};

use serde::de::DeserializeOwned;

use super::stored::{Decoded, OutputSlot, Stored};
use super::{Arg, Call, Found, MissReason, State, Target, read_entry};
use crate::entry::{self, Entry};
use crate::function::CachedFn;
use crate::hash::Digest;
use crate::info::EntryInfo;
use crate::memory::Memory;

/// What a handle asks of the call it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Run the body whatever is stored, and store its output.
    Recompute,
    /// Make sure the output is stored (computing it if needed).
    Shelve,
    /// Say whether a usable entry is stored; never run the body.
    Check,
    /// Say which function this is; never run the body.
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
    /// The function the call resolved to; `None` until a call of the
    /// closure's output type acted on the probe.
    pub function: Option<&'static CachedFn>,
    /// Its entry, when the `Memory` stores anything.
    pub shelf: Option<Shelf>,
    /// For [`Mode::Check`]: whether a usable entry is stored.
    pub hit: bool,
    /// For [`Mode::Check`]: why the call would miss.
    pub reason: Option<MissReason>,
}

/// A probe: set on a thread by a handle, taken by the cached calls it
/// makes (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    pub mode: Mode,
    /// `type_name` of what the handle's closure returns (the output of its
    /// future, for the `_async` methods): the call the handle is for
    /// returns it.
    returns: &'static str,
    pub outcome: Arc<Mutex<Outcome>>,
}

impl Probe {
    /// A probe for a closure whose cached call returns `R`.
    pub(crate) fn new<R>(mode: Mode) -> Probe {
        Probe {
            mode,
            returns: std::any::type_name::<R>(),
            outcome: Arc::new(Mutex::new(Outcome::default())),
        }
    }

    /// Whether a call returning `returns` (a `type_name`) may be the one
    /// the handle is for.
    fn wants(&self, returns: &str) -> bool {
        self.returns == returns
    }

    fn report(&self, update: impl FnOnce(&mut Outcome)) {
        update(&mut self.outcome.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// The handle's call is `call` of `function`, whatever an earlier one
    /// reported.
    fn acting(&self, call: &Call, function: &'static CachedFn) {
        let shelf = call.shelf();
        self.report(|outcome| {
            *outcome = Outcome {
                function: Some(function),
                shelf,
                hit: false,
                reason: None,
            };
        });
    }

    /// Ends the call without an output; the handle catches this.
    #[cfg(panic = "unwind")]
    fn unwind(&self) -> ! {
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

/// Sets `probe` on this thread until the returned guard is dropped (also
/// when unwinding: a panic in the handle's closure, caught further up,
/// must not leave the probe for an unrelated later call).
pub(crate) fn install(probe: Option<Probe>) -> Installed {
    Installed {
        previous: Some(PROBE.with(|slot| slot.replace(probe))),
    }
}

/// A probe set on this thread; see [`install`].
pub(crate) struct Installed {
    previous: Option<Option<Probe>>,
}

impl Installed {
    /// Restores what was set before; returns the probe, if no call is
    /// holding it now.
    pub(crate) fn remove(mut self) -> Option<Probe> {
        let previous = self.previous.take().expect("removed once");
        PROBE.with(|slot| slot.replace(previous))
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            PROBE.with(|slot| slot.set(previous));
        }
    }
}

/// Takes the probe of this thread, if a handle set one.
#[inline]
pub(crate) fn take() -> Option<Probe> {
    PROBE.with(Cell::take)
}

/// Hands the probe back to the thread once a call that held it is done.
pub(super) fn put_back(probe: Probe) {
    PROBE.with(|slot| slot.set(Some(probe)));
}

/// A cached call that took a probe, between its lookup and its finish.
pub(crate) struct Probed {
    probe: Probe,
    /// The function the call resolved to.
    function: &'static CachedFn,
}

/// Begins a cached call that took `probe`. Nothing waits yet: whether the
/// call is the handle's is known only at its finish, which takes the
/// compute-once lock if it computes.
#[cold]
pub(super) fn begin(
    probe: Probe,
    function: &'static CachedFn,
    type_args: &[&'static str],
    args: &[&dyn Arg],
) -> Call {
    let function = function.resolve(type_args);
    let mut call = super::begin_resolved(function, type_args, args, false);
    // A handle's call sees one kind of found entry.
    if let State::Kept(kept) = call.state {
        call.state = State::Found(super::found_from(&kept));
    }
    call.probed = Some(Probed { probe, function });
    call
}

impl Call {
    /// Where this call's entry is, if it has one.
    fn shelf(&self) -> Option<Shelf> {
        let target = match &self.state {
            State::Uncached => return None,
            State::Kept(kept) => {
                return Some(Shelf {
                    memory: kept.memory,
                    path: kept.path.to_string(),
                    key: kept.key,
                });
            }
            State::Found(found) => &found.target,
            State::Missing(missing) => &missing.target,
        };
        Some(Shelf {
            memory: target.memory,
            path: target.path.clone(),
            key: target.key,
        })
    }

    /// Applies `probe` to the handle's call before its output is decoded or
    /// computed: a stored output the handle asks about is decoded into
    /// `slot` (`Ok`); a call that must not run ends here; a recomputation
    /// drops the stored entry. Otherwise returns the call to finish.
    #[allow(
        clippy::result_large_err,
        reason = "the call is handed straight back to be finished, once"
    )]
    fn probed(self, probed: &Probed, slot: &mut dyn OutputSlot) -> Result<(), Call> {
        let probe = &probed.probe;
        probe.acting(&self, probed.function);
        match (probe.mode, self.state) {
            (Mode::Recompute, State::Found(found)) => Err(Call {
                state: State::Missing(Box::new(found.into_missing(MissReason::Refresh))),
                probed: None,
            }),
            (Mode::Recompute | Mode::Shelve, state) => Err(Call {
                state,
                probed: None,
            }),
            (Mode::Check | Mode::Identify, State::Found(found)) => match found.decode(slot) {
                Ok(()) => {
                    probe.report(|outcome| outcome.hit = true);
                    Ok(())
                }
                Err(reason) => {
                    probe.report(|outcome| outcome.reason = Some(reason));
                    probe.unwind()
                }
            },
            (Mode::Check, State::Missing(missing)) => {
                let reason = missing.decide_reason();
                probe.report(|outcome| outcome.reason = Some(reason));
                probe.unwind()
            }
            (Mode::Check | Mode::Identify, _) => probe.unwind(),
        }
    }
}

/// Looks up a call that took `probe`: as usual if it is not the handle's
/// call, else as the handle asked. The probe goes back to the thread for
/// the calls that follow once the call is done (with its output, or when
/// the body the caller runs completes).
pub(super) fn lookup(
    call: Call,
    probed: Probed,
    slot: &mut dyn OutputSlot,
) -> Result<(), super::Run> {
    let looked_up = if probed.probe.wants(slot.returns()) {
        match call.probed(&probed, slot) {
            Ok(()) => Ok(()),
            Err(call) => call.finish_unprobed(slot),
        }
    } else {
        call.finish_unprobed(slot)
    };
    match looked_up {
        Ok(()) => {
            put_back(probed.probe);
            Ok(())
        }
        Err(compute) => Err(super::Run {
            compute,
            probe: Some(probed.probe),
        }),
    }
}

/// [`lookup`]'s first part for an `async fn`, before anything waits: the
/// handle's call acts as the handle asked (a stored output it asks about
/// is returned, the probe put back); any other call is handed back with
/// the probe, to look up as usual and put the probe back once done.
#[allow(
    clippy::result_large_err,
    reason = "the call is handed straight back to be looked up, once"
)]
pub(super) fn probed_async<K: Stored>(
    call: Call,
    probed: Probed,
) -> Result<K::Output, (Call, Probe)> {
    let mut slot = Decoded::<K>::new();
    let call = match probed.probe.wants(slot.returns()) {
        false => call,
        true => match call.probed(&probed, &mut slot) {
            Ok(()) => {
                put_back(probed.probe);
                return Ok(slot.output());
            }
            Err(call) => call,
        },
    };
    Err((call, probed.probe))
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
    read_entry(store, target, false, None, true)
        .ok()
        .map(ShelfEntry)
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
                self.0
                    .target
                    .memory
                    .store()
                    .and_then(|store| store.blob_reader()),
            )
            .map_err(|e| format!("the output does not decode as {wanted} ({e})"))
    }
}
