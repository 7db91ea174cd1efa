//! The call path: hash the arguments, look the key up, and on a miss run the
//! body and store its output.
//!
//! Generated code calls [`begin`] while it can still borrow the arguments
//! (through `output.rs`, which picks how the output is stored, and
//! `stored.rs`, which erases its type); a hit returns, and on a miss it runs
//! the body itself and hands the output to [`Run::complete`] (an `async fn`
//! calls [`begin_async`], then `lookup_async`, and on a miss awaits its
//! body and hands the output to [`AsyncRun`]). A
//! hit is one read and a checksum; nothing is rendered, allocated per
//! argument or written. A miss renders the call for the trace and the
//! metadata, runs the body, and stores the result atomically. No failure of
//! the cache (unhashable argument, corrupt entry, full or read-only disk)
//! ever loses the function's result: the worst case is running uncached.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::entry::{self, ArgRecord, Entry, EntryMeta, HEADER_LEN, MissRecord, Origin};
use crate::function::CachedFn;
use crate::hash::Digest;
use crate::memory::Memory;
use crate::store::in_process::{InProcess, Kept};
use crate::store::{EntryStore, KeyGuard, StoredEntry};
use crate::{key, recorded, trace};
pub use arg::Arg;
pub use async_call::AsyncRun;
pub(crate) use explain::forget_known_calls;
use hit::{decode_kept, found_from};
pub use output::{FinishResult, FinishValue, Output, typed};
use probe::Probed;
pub use reason::{MissReason, Validator};
use stored::{Encode, OutputSlot};
use unused::{Settled, Unused, report_unused};

/// Longest rendering of one argument in a trace or in metadata.
const ARG_RENDER_LIMIT: usize = 200;

/// A cached call between the lookup and the result.
pub struct Call {
    state: State,
    /// Set when a [`Handle`](crate::Handle) made this call.
    probed: Option<Probed>,
}

enum State {
    /// Run the body and store nothing: the `Memory` is disabled or cannot be
    /// opened, or an argument could not be hashed.
    Uncached,
    /// A copy kept by the in-process tier, checked and usable; its output
    /// is decoded once the output type is known.
    Kept(Arc<Kept>),
    /// A verified entry; its output is decoded once the output type is known.
    Found(Found),
    /// No usable entry: run the body, then store its output. Boxed: a
    /// miss allocates anyway, and a hit then moves a small `Call`.
    Missing(Box<Missing>),
}

/// Where a call's entry lives.
struct Target {
    function: &'static CachedFn,
    memory: &'static Memory,
    key: Digest,
    path: String,
}

struct Found {
    target: Target,
    /// The entry as read; its head was verified by `read_entry`.
    stored: StoredEntry,
}

struct Missing {
    target: Target,
    /// The call as written: `f(1, "a")`.
    call: String,
    args: Vec<ArgRecord>,
    /// `type_name` of each argument in `args`.
    arg_types: Vec<String>,
    type_args: Vec<String>,
    /// Why it computes, once decided (when the computation starts).
    why: Option<MissReason>,
    /// The entry that was read and not used, if one was.
    unused: Option<Box<Unused>>,
    /// The compute-once lock, released once the output is stored (or the
    /// body panicked).
    _lock: Option<KeyGuard>,
    /// Whether taking the lock was tried already (it may have failed: a
    /// read-only cache); a recomputation never tries twice.
    lock_tried: bool,
}

/// No usable entry at a call's target; what was there, if anything.
struct Passed {
    target: Target,
    unused: Option<Box<Unused>>,
}

/// Starts a cached call and looks its output up: hashes `args`, looks the
/// key up and decodes a hit into `slot` (`Ok`); otherwise the caller runs
/// the body and hands its output to [`Run::complete`]. `stored.rs` wraps
/// it for a typed output.
///
/// `type_args` holds `type_name::<T>()` for each type parameter of a generic
/// function (and first, for a method, of `Self`), so each instantiation has
/// its own entries; it is empty for ordinary functions.
///
/// Not generic, and the [`Call`] never leaves it: compiled once, here, not
/// in every crate that calls it.
pub(crate) fn begin(
    function: &'static CachedFn,
    type_args: &[&'static str],
    args: &[&dyn Arg],
    slot: &mut dyn OutputSlot,
) -> Result<(), Run> {
    start(function, type_args, args, true).lookup(slot)
}

/// `begin` for an `async fn`: it never waits for another caller computing
/// the same key (that wait happens off the executor, in `lookup_async`).
pub fn begin_async(
    function: &'static CachedFn,
    type_args: &[&'static str],
    args: &[&dyn Arg],
) -> Call {
    start(function, type_args, args, false)
}

/// The one way a call starts: the function resolved (for a method, to its
/// `Self` type), its `Memory` and key looked up, unless a handle's probe
/// is set on this thread. `wait`: whether a miss waits for another caller
/// computing the same key.
#[inline]
fn start(
    function: &'static CachedFn,
    type_args: &[&'static str],
    args: &[&dyn Arg],
    wait: bool,
) -> Call {
    function.dependency.enter();
    match probe::take() {
        None => begin_resolved(function.resolve(type_args), type_args, args, wait),
        Some(probe) => probe::begin(probe, function, type_args, args),
    }
}

/// [`begin`] for a function already resolved (for a method, to its `Self`
/// type). `wait`: whether a miss waits for another caller computing the same
/// key (async calls wait off the executor instead, in `lookup_async`).
fn begin_resolved(
    function: &'static CachedFn,
    type_args: &[&'static str],
    args: &[&dyn Arg],
    wait: bool,
) -> Call {
    let memory = function.memory();
    let state = match memory.store() {
        None => State::Uncached,
        Some(store) => lookup(function, memory, store, type_args, args, wait),
    };
    Call {
        state,
        probed: None,
    }
}

fn lookup(
    function: &'static CachedFn,
    memory: &'static Memory,
    store: &dyn EntryStore,
    type_args: &[&'static str],
    args: &[&dyn Arg],
    wait: bool,
) -> State {
    let mut digests = [0; 8];
    let mut spilled = Vec::new();
    let digests: &mut [Digest] = if args.len() <= digests.len() {
        &mut digests[..args.len()]
    } else {
        spilled.resize(args.len(), 0);
        &mut spilled
    };
    for (slot, arg) in digests.iter_mut().zip(args) {
        match arg.digest() {
            Ok(digest) => *slot = digest,
            Err(e) => {
                trace::warn(format_args!(
                    "{}: {e}; the call runs uncached",
                    function.derived().identity
                ));
                return State::Uncached;
            }
        }
    }
    let derived = function.derived();
    let key = key::call_key(derived.key_prefix, type_args, digests);
    if let Some(tier) = store.in_process()
        && let Some(kept) = usable_copy(tier, function, memory, key)
    {
        return State::Kept(kept);
    }
    let target = Target {
        function,
        memory,
        key,
        path: crate::layout::entry_path(&derived.dir, &derived.version, key),
    };
    let Passed { target, unused } = match read_entry(store, target, true, None, true) {
        Ok(found) => return State::Found(found.kept_as(store, key)),
        Err(passed) => passed,
    };
    // Compute once: wait while another caller computes this key, then look
    // again. Without a lock (a read-only cache, say) we compute anyway.
    let lock = match wait {
        true => take_lock(store, &target, args),
        false => None,
    };
    let Passed { target, unused } = match lock {
        Some(_) => match read_entry(store, target, false, unused.as_deref(), true) {
            Ok(found) => return State::Found(found.kept_as(store, key)),
            Err(passed) => passed,
        },
        None => Passed { target, unused },
    };
    let call = render_call(function, args);
    let arg_types = args.iter().map(|arg| arg.type_name().to_owned()).collect();
    let args = arg_records(function, digests);
    State::Missing(Box::new(Missing {
        target,
        call,
        args,
        arg_types,
        type_args: type_args.iter().map(|t| t.to_string()).collect(),
        why: None,
        unused,
        _lock: lock,
        lock_tried: wait,
    }))
}

/// The in-process tier's copy for `key`, if it may be served: its file
/// still the one kept when due for that check (see `store/in_process.rs`),
/// and neither expired nor rejected by a validation callback (else the copy
/// is dropped and the store's entry decides, and says why).
#[inline]
fn usable_copy(
    tier: &InProcess,
    function: &'static CachedFn,
    memory: &'static Memory,
    key: Digest,
) -> Option<Arc<Kept>> {
    let kept = tier.get(function, key)?;
    let now = crate::sys::coarse_ms();
    if kept.due(now) && !tier.check(&kept, now) {
        return None;
    }
    if freshness::applies(function, memory)
        && freshness::check(function, memory, &kept.entry(), kept.bytes.len() as u64).is_err()
    {
        tier.drop_copy(&kept);
        return None;
    }
    Some(kept)
}

/// Takes the compute-once lock of `target`, waiting at most the function's
/// wait limit; `None` when there is no lock to take (a read-only cache) or
/// the limit passed — then the caller computes, and says so.
fn take_lock(store: &dyn EntryStore, target: &Target, args: &[&dyn Arg]) -> Option<KeyGuard> {
    let limit = target.wait_limit();
    match store.lock_within(target.key, limit) {
        Ok(Some(lock)) => Some(lock),
        Ok(None) => {
            gave_up_waiting(target, limit, || render_call(target.function, args));
            None
        }
        Err(e) => {
            tracing::debug!(target: "memory", path = target.path, %e, "no compute-once lock");
            None
        }
    }
}

/// Says, once per call that gives up, that another caller held its key
/// past the wait limit and this one computes it too.
fn gave_up_waiting(target: &Target, limit: Option<Duration>, call: impl FnOnce() -> String) {
    let waited = limit.map_or_else(String::new, |limit| {
        format!(" for {}", crate::readable::format_duration(limit))
    });
    trace::warn(format_args!(
        "{}: another caller has been computing {} and held it{waited} (its wait limit); \
         computing it here too",
        target.function.derived().identity,
        call()
    ));
}

impl Target {
    /// How long a call waits for another caller computing its key: the
    /// function's `wait_limit`, else its `Memory`'s; `None`: as long as the
    /// other caller holds it.
    fn wait_limit(&self) -> Option<Duration> {
        self.function
            .spec
            .wait_limit
            .or(self.memory.wait_limit_set())
    }
}

/// Reads and verifies the entry of `target`; hands `target` back when
/// there is no usable entry, with what was there. A damaged, expired or
/// rejected entry is reported if `report`; `skip` is an entry read before
/// and not used: found again unchanged, it is passed over unchecked. With
/// `alternatives`, an entry whose recorded dependencies changed sends the
/// lookup to the result kept for this binary's dependencies, if there is
/// one, and is kept for its own (see [`alternative`]).
fn read_entry(
    store: &dyn EntryStore,
    target: Target,
    report: bool,
    skip: Option<&Unused>,
    alternatives: bool,
) -> Result<Found, Passed> {
    let stored = match store.read(&target.path) {
        Ok(Some(stored)) => stored,
        Ok(None) => {
            return Err(Passed {
                target,
                unused: None,
            });
        }
        Err(e) => {
            if report {
                target.memory.report_read_failure(&target.path, &e);
            }
            return Err(Passed {
                target,
                unused: None,
            });
        }
    };
    if let Some(skip) = skip
        && skip.is(&stored)
    {
        let unused = Some(Box::new(skip.clone()));
        return Err(Passed { target, unused });
    }
    let checked = Entry::parse_head(&stored.bytes, stored.len, Some(target.key))
        .map_err(|e| NotUsed::Reason(MissReason::Damaged(e)))
        .and_then(|entry| {
            freshness::check(target.function, target.memory, &entry, stored.len)
                .map_err(NotUsed::Reason)?;
            recorded::check(&entry, target.key).map_err(|unusable| match unusable {
                recorded::Unusable::Malformed(e) => NotUsed::Reason(MissReason::Damaged(e)),
                recorded::Unusable::Changed(changed) => NotUsed::Dependency(changed),
            })
        });
    let reason = match checked {
        Ok(()) => return Ok(Found { target, stored }),
        Err(NotUsed::Reason(reason)) => reason,
        Err(NotUsed::Dependency(changed)) => {
            if alternatives && let Some(found) = alternative(store, &target, &stored, &changed) {
                return Ok(found);
            }
            let identity = changed.identity;
            match changed.exists {
                true => MissReason::DependencyChanged { identity },
                false => MissReason::DependencyGone { identity },
            }
        }
    };
    // Found but unusable: the next write replaces it wherever it is.
    store.rejected(&target.path);
    if report {
        report_unused(&target, &reason);
    }
    let mut header = [0; HEADER_LEN];
    if let Some(head) = stored.bytes.get(..HEADER_LEN) {
        header.copy_from_slice(head);
    }
    let unused = Some(Box::new(Unused { header, reason }));
    Err(Passed { target, unused })
}

/// Why a found entry is not used.
enum NotUsed {
    Reason(MissReason),
    /// A recorded dependency changed: there may be an alternative.
    Dependency(Box<recorded::Changed>),
}

/// An entry at `target` whose recorded dependencies differ from this
/// binary's: the result kept for this binary's dependencies if there is one
/// (found after reverting an edit), else `None`, and the entry found is
/// kept under the key of its own dependencies, since the miss that follows
/// replaces it. Keeping needs the whole entry in hand: a large entry whose
/// arrays were not read is not kept.
fn alternative(
    store: &dyn EntryStore,
    target: &Target,
    stored: &StoredEntry,
    changed: &recorded::Changed,
) -> Option<Found> {
    let at = |key: Digest| {
        let derived = target.function.derived();
        Target {
            function: target.function,
            memory: target.memory,
            key,
            path: crate::layout::entry_path(&derived.dir, &derived.version, key),
        }
    };
    if let Ok(found) = read_entry(store, at(changed.current), false, None, false) {
        return Some(found);
    }
    if stored.bytes.len() as u64 == stored.len
        && let Some(kept) = entry::rekeyed(&stored.bytes, changed.recorded)
    {
        let kept_at = at(changed.recorded);
        if let Err(e) = store.write(&kept_at.path, &[&kept]) {
            tracing::debug!(target: "memory", path = kept_at.path, %e, "a replaced result is not kept");
        }
    }
    None
}

impl Call {
    /// Looks the output up, decoding into `slot` (the caller's output type,
    /// erased): a hit (or a handle's call that does not run) fills it;
    /// otherwise the caller runs the body and hands its output to
    /// [`Run::complete`].
    ///
    /// Nothing here is generic: generated code calls the body itself,
    /// between the two, and the output type is behind `slot`, so the call
    /// path is compiled once, here, whatever the functions return.
    #[inline]
    fn lookup(mut self, slot: &mut dyn OutputSlot) -> Result<(), Run> {
        match self.probed.take() {
            None => self.finish_unprobed(slot).map_err(Run::unprobed),
            Some(probed) => probe::lookup(self, probed, slot),
        }
    }

    /// [`Call::lookup`] once any probe was dealt with.
    #[inline]
    fn finish_unprobed(self, slot: &mut dyn OutputSlot) -> Result<(), Compute> {
        let missing = match self.state {
            State::Uncached => return Err(Compute::Uncached),
            State::Missing(missing) => *missing,
            State::Kept(kept) => match decode_kept(&kept, slot) {
                Ok(()) => return Ok(()),
                Err(reason) => found_from(&kept).into_missing(reason),
            },
            State::Found(found) => match found.decode(slot) {
                Ok(()) => return Ok(()),
                Err(reason) => found.into_missing(reason),
            },
        };
        match missing.settle(slot) {
            Settled::Stored => Ok(()),
            Settled::Compute(missing) => Err(Compute::Missing(Box::new(missing.begin_run()))),
        }
    }
}

/// A call whose body the caller runs now (see `Call::lookup`). Dropped
/// without `Run::complete` (the body panicked), it stores nothing, and its
/// lock and recording frame are released.
pub struct Run {
    compute: Compute,
    /// A handle's probe, handed back to the thread once the call is done.
    probe: Option<probe::Probe>,
}

/// What a body's output goes to.
enum Compute {
    /// Nothing: the call runs uncached.
    Uncached,
    /// A miss, its dependencies recorded while the body runs (boxed: a
    /// hit returns `Result<_, Run>` too, and should not carry a miss's
    /// size).
    Missing(Box<miss::Running>),
}

impl Run {
    fn unprobed(compute: Compute) -> Run {
        Run {
            compute,
            probe: None,
        }
    }

    /// Stores `kept`, what is kept of the body's output (`None`: nothing,
    /// an `Err`). When the output is to be returned as the entry just
    /// stored (arrays mapped), it is reloaded into `slot`.
    pub(crate) fn complete(self, kept: Option<&dyn Encode>, slot: &mut dyn OutputSlot) {
        if let Compute::Missing(running) = self.compute {
            running.complete(kept, slot);
        }
        if let Some(probe) = self.probe {
            probe::put_back(probe);
        }
    }
}

fn verbosity(function: &CachedFn, memory: &Memory) -> u8 {
    function.spec.verbose.unwrap_or_else(|| memory.verbosity())
}

/// `f(1, "a")`: the hashed arguments, positionally, as joblib prints calls.
fn render_call(function: &CachedFn, args: &[&dyn Arg]) -> String {
    let mut call = String::with_capacity(32);
    call.push_str(function.spec.name);
    call.push('(');
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            call.push_str(", ");
        }
        arg.render(ARG_RENDER_LIMIT, &mut call);
    }
    call.push(')');
    call
}

fn arg_records(function: &CachedFn, digests: &[Digest]) -> Vec<ArgRecord> {
    let names = function
        .spec
        .params
        .iter()
        .copied()
        .chain(std::iter::repeat("?"));
    names
        .zip(digests)
        .map(|(name, digest)| ArgRecord {
            name: name.to_owned(),
            digest: crate::layout::hex(*digest),
        })
        .collect()
}

mod arg;
mod async_call;
mod explain;
mod freshness;
mod hit;
mod miss;
mod output;
pub(crate) mod probe;
mod reason;
mod stored;
mod unused;
