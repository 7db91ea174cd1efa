//! The call path: hash the arguments, look the key up, and on a miss run the
//! body and store its output.
//!
//! Generated code calls [`begin`] while it can still borrow the arguments,
//! then hands the body to [`Call::finish`] (through `output.rs`, which
//! picks how the output is [`Stored`]). A
//! hit is one read and a checksum; nothing is rendered, allocated per
//! argument or written. A miss renders the call for the trace and the
//! metadata, runs the body, and stores the result atomically. No failure of
//! the cache (unhashable argument, corrupt entry, full or read-only disk)
//! ever loses the function's result: the worst case is running uncached.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use serde::de::DeserializeOwned;

use crate::entry::{self, ArgRecord, Entry, EntryMeta, HEADER_LEN, MissRecord, Origin};
use crate::function::CachedFn;
use crate::hash::Digest;
use crate::memory::Memory;
use crate::store::{EntryStore, KeyGuard, StoredEntry};
use crate::{key, recorded, trace};
pub use arg::Arg;
pub(crate) use explain::forget_known_calls;
pub use output::{FinishResult, FinishValue, Output, typed};
use probe::Probed;
pub use reason::{MissReason, Validator};
use stored::Stored;
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
    /// A verified entry; its output is decoded once the output type is known.
    Found(Found),
    /// No usable entry: run the body, then store its output.
    Missing(Missing),
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

/// Starts a cached call: hashes `args` and looks the key up.
///
/// `type_args` holds `type_name::<T>()` for each type parameter of a generic
/// function (and first, for a method, of `Self`), so each instantiation has
/// its own entries; it is empty for ordinary functions.
#[inline]
pub fn begin(function: &'static CachedFn, type_args: &[&'static str], args: &[&dyn Arg]) -> Call {
    start(function, type_args, args, true)
}

/// [`begin`] for an `async fn`: it never waits for another caller computing
/// the same key (that wait happens off the executor, in `finish_async`).
#[inline]
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
    if let Some(dependency) = function.dependency {
        dependency.enter();
    }
    match probe::take() {
        None => begin_resolved(function.resolve(type_args), type_args, args, wait),
        Some(probe) => probe::begin(probe, function, type_args, args),
    }
}

/// [`begin`] for a function already resolved (for a method, to its `Self`
/// type). `wait`: whether a miss waits for another caller computing the same
/// key (async calls wait off the executor instead, in `finish_async`).
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
    let target = Target {
        function,
        memory,
        key,
        path: crate::layout::entry_path(&derived.dir, &derived.version, key),
    };
    let Passed { target, unused } = match read_entry(store, target, true, None, true) {
        Ok(found) => return State::Found(found),
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
            Ok(found) => return State::Found(found),
            Err(passed) => passed,
        },
        None => Passed { target, unused },
    };
    let call = render_call(function, args);
    let arg_types = args.iter().map(|arg| arg.type_name().to_owned()).collect();
    let args = arg_records(function, digests);
    State::Missing(Missing {
        target,
        call,
        args,
        arg_types,
        type_args: type_args.iter().map(|t| t.to_string()).collect(),
        why: None,
        unused,
        _lock: lock,
        lock_tried: wait,
    })
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
    /// Finishes the call, its output stored as `K` says: a hit returns the
    /// stored value, a miss runs `body`; a handle's call acts as it asked.
    ///
    /// `F`, a body's closure, is a type of its own for every function: this
    /// shim is all that is compiled once per cached function. Past it the
    /// body is a `dyn FnMut`, so the rest of the call path is compiled once
    /// per output type, shared by every function returning that type.
    pub(crate) fn finish<K: Stored, F: FnOnce() -> K::Output>(self, body: F) -> K::Output {
        let mut body = Some(body);
        self.finish_erased::<K>(&mut || (body.take().expect("a body runs at most once"))())
    }

    /// [`Call::finish`] with the body erased.
    fn finish_erased<K: Stored>(mut self, body: &mut dyn FnMut() -> K::Output) -> K::Output {
        match self.probed.take() {
            None => self.finish_unprobed::<K, _>(body),
            Some(probed) => probe::finish::<K, _>(self, probed, body),
        }
    }

    /// [`Call::finish`] once any probe was dealt with.
    fn finish_unprobed<K: Stored, F: FnOnce() -> K::Output>(self, body: F) -> K::Output {
        let missing = match self.state {
            State::Uncached => return body(),
            State::Missing(missing) => missing,
            State::Found(found) => match found.decode::<K::Value>() {
                Ok(stored) => return K::rebuild(stored),
                Err(reason) => found.into_missing(reason),
            },
        };
        match missing.settle::<K::Value>() {
            Settled::Stored(stored) => K::rebuild(stored),
            Settled::Compute(missing) => missing.run::<K>(body),
        }
    }
}

impl Found {
    /// The entry, verified (checksum and key) when it was read.
    fn entry(&self) -> Entry<'_> {
        Entry::parse_verified(&self.stored.bytes, self.stored.len).expect("verified by read_entry")
    }

    /// Decodes the output, or says why it cannot be used.
    fn decode<S: DeserializeOwned>(&self) -> Result<S, MissReason> {
        let wanted = std::any::type_name::<S>();
        let entry = self.entry();
        if entry.type_hash() != entry::type_hash(wanted) {
            return Err(MissReason::TypeChanged { wanted });
        }
        let stored = entry
            .output_from(
                self.stored.file.as_ref(),
                self.target.function.array_mode(self.target.memory),
                self.target
                    .memory
                    .store()
                    .and_then(|store| store.blob_reader()),
            )
            .map_err(|error| MissReason::Undecodable { wanted, error })?;
        let function = self.target.function;
        if function.spec.ignore_code {
            self.compare_code();
        }
        if verbosity(function, self.target.memory) >= 2 {
            trace::loading(function.spec.name, &function.derived().identity);
        }
        tracing::debug!(target: "memory", function = function.derived().identity, "cache hit");
        if recorded::active() {
            // The callee's result shaped the caller's: so did what it
            // recorded.
            recorded::extend(recorded::recorded_by(&entry));
        }
        if let Some(recorder) = self.target.memory.recorder() {
            recorder.hit(function.used(), self.target.key);
        }
        Ok(stored)
    }
}

impl Found {
    /// For an `ignore_code` function, once per process: says when the
    /// entry served was computed by other code than this build's (kept,
    /// as `ignore_code` asks, until the version changes).
    #[cold]
    fn compare_code(&self) {
        #[derive(serde::Deserialize)]
        struct Code {
            #[serde(default)]
            origin: Origin,
        }
        let function = self.target.function;
        if function.code_compared.swap(true, Ordering::Relaxed) {
            return;
        }
        let Ok(Code { origin }) = self.entry().meta_as::<Code>() else {
            return;
        };
        let code = format!("{:032x}", function.spec.code);
        if origin.code.is_empty() || origin.code == code {
            return;
        }
        let version = match function.spec.version {
            Some(version) => format!("version {version}"),
            None => "no version given".to_owned(),
        };
        trace::note(
            verbosity(function, self.target.memory),
            format_args!(
                "{}: code changed since these results were computed; kept by ignore_code, {version}",
                function.derived().identity
            ),
        );
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
            digest: format!("{digest:032x}"),
        })
        .collect()
}

fn unix_millis() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}

mod arg;
mod async_call;
mod explain;
mod freshness;
mod miss;
mod output;
pub(crate) mod probe;
mod reason;
mod stored;
mod unused;
