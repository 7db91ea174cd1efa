//! Handles: joblib's `MemorizedFunc` abilities for any cached function.
//!
//! [`handle`] takes a closure that makes one cached call — `|| f(1, 2)`,
//! `|| model.predict(&x)`, `|| Model::load(path)` — the same way for free
//! functions, methods, associated and generic functions, and `async fn`s
//! (then with the `_async` methods). The [`Handle`] then makes that call
//! the way joblib's `MemorizedFunc` methods would:
//!
//! | joblib | memo |
//! | --- | --- |
//! | `f.call(1, 2)` | `memory::handle(\|\| f(1, 2)).call()` |
//! | `f.call_and_shelve(1, 2)` | `memory::handle(\|\| f(1, 2)).call_and_shelve()` |
//! | `f.check_call_in_cache(1, 2)` | `memory::handle(\|\| f(1, 2)).check_call_in_cache()` |
//! | `f.clear()` | `memory::handle(\|\| f(1, 2)).clear()` |
//! | — (why not) | `memory::handle(\|\| f(1, 2)).why_not()` |
//! | — (force-refresh) | `memory::handle(\|\| f(1, 2)).refresh()` |
//!
//! The closure names the function by calling it, which is what works for
//! every kind of function Rust has: a method of a trait impl cannot carry
//! a companion item, and a fn item's type cannot be named. The handle acts
//! on the call whose result the closure returns: the last cached call the
//! closure makes (on its own thread) whose output type is the closure's.
//! In `|| f(g(1))`, `g(1)` is an argument: it runs as a plain cached call
//! (if `g` returns the closure's type too, a `call()` runs it again), and
//! the handle acts on `f`. Calls made from inside a cached function's body
//! always run as usual.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::PoisonError;
use std::task::{Context, Poll};

use serde::de::DeserializeOwned;

use crate::call::MissReason;
use crate::call::probe::{self, Mode, Outcome, Probe, Shelf};
use crate::function::CachedFn;
use crate::info::EntryInfo;

/// A handle on one call of a cached function; see [`handle`].
#[must_use = "a handle does nothing until one of its methods is called"]
pub struct Handle<C> {
    call: C,
}

impl<C> std::fmt::Debug for Handle<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

/// A handle on the cached call that `call` makes: joblib's `MemorizedFunc`
/// abilities, the same way for free functions and methods.
///
/// ```
/// # memory::set_default(memory::Memory::new(tempfile::tempdir().unwrap().keep())).unwrap();
/// #[memory::cache]
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// struct Scale(u64);
///
/// impl Scale {
///     #[memory::cache(ignore = ["self"])]
///     fn apply(&self, x: u64) -> u64 {
///         self.0 * x
///     }
/// }
///
/// // `call`: always run, store, and return the output with its metadata.
/// let (value, info) = memory::handle(|| square(4)).call();
/// assert_eq!(value, 16);
/// assert_eq!(info.unwrap().call, "square(4)");
///
/// // `check_call_in_cache`: never runs the function.
/// assert!(memory::handle(|| square(4)).check_call_in_cache());
/// assert!(!memory::handle(|| square(5)).check_call_in_cache());
///
/// // `call_and_shelve`: make sure it is stored, and get a reference to it.
/// let scale = Scale(3);
/// let shelved = memory::handle(|| scale.apply(2)).call_and_shelve().unwrap();
/// assert_eq!(shelved.get::<u64>().unwrap(), 6);
///
/// // `clear`: forget every stored result of the function.
/// memory::handle(|| square(0)).clear().unwrap();
/// assert!(!memory::handle(|| square(4)).check_call_in_cache());
/// ```
pub fn handle<C, R>(call: C) -> Handle<C>
where
    C: FnOnce() -> R,
{
    Handle { call }
}

impl<C, R> Handle<C>
where
    C: FnOnce() -> R,
{
    /// Runs the function whatever is stored, stores its output (replacing
    /// any stored one), and returns it with the new entry's metadata
    /// (joblib's `MemorizedFunc.call`). The metadata is `None` when nothing
    /// was stored: a disabled `Memory`, an `Err` output, a failed write.
    pub fn call(self) -> (R, Option<EntryInfo>) {
        let (output, outcome) = probed::<R>(Mode::Recompute, self.call);
        let output = output.expect("a recomputing call returns its output");
        (output, stored_info(&outcome))
    }

    /// Makes sure the call's output is stored (running the function only if
    /// it is not) and returns a reference to it (joblib's
    /// `MemorizedFunc.call_and_shelve`). A stored output is decoded once
    /// (and dropped) on the way, as the closure's arguments may need it.
    ///
    /// `Err` holds the output when the cache keeps nothing for this call (a
    /// disabled `Memory`, an `Err` output, a failed write), as joblib's
    /// `NotMemorizedResult` does.
    pub fn call_and_shelve(self) -> Result<MemorizedResult, R> {
        let (output, outcome) = probed::<R>(Mode::Shelve, self.call);
        shelved(&outcome).ok_or_else(|| output.expect("an unshelved call returns its output"))
    }

    /// Whether the call's output is stored and usable, without running the
    /// function (joblib's `MemorizedFunc.check_call_in_cache`). A stored
    /// output is decoded, to be sure it is usable.
    #[cfg(panic = "unwind")]
    pub fn check_call_in_cache(self) -> bool {
        probed::<R>(Mode::Check, self.call).1.hit
    }

    /// Why the call would not be served from the cache, without running the
    /// function: `None` when a usable entry is stored (the call would hit),
    /// else the [`MissReason`] the call would compute with — the reason
    /// verbose output and `memo why` give (joblib's
    /// `check_call_in_cache`, plus why).
    ///
    /// ```
    /// # memory::set_default(memory::Memory::new(tempfile::tempdir().unwrap().keep())).unwrap();
    /// use memory::MissReason;
    ///
    /// #[memory::cache]
    /// fn area(width: u64, height: u64) -> u64 {
    ///     width * height
    /// }
    ///
    /// assert_eq!(memory::handle(|| area(2, 3)).why_not(), Some(MissReason::FirstCall));
    /// area(2, 3);
    /// assert_eq!(memory::handle(|| area(2, 3)).why_not(), None);
    /// let why = memory::handle(|| area(2, 4)).why_not().unwrap();
    /// assert_eq!(why.to_string(), "new arguments: `height` differs, `width` same");
    /// ```
    #[cfg(panic = "unwind")]
    pub fn why_not(self) -> Option<MissReason> {
        why_not(probed::<R>(Mode::Check, self.call).1)
    }

    /// Runs the function now whatever is stored and replaces the stored
    /// result with its output (cachier's `overwrite_cache`, cached's
    /// force-refresh). Compute-once still holds: the refresh takes the
    /// key's lock, so two refreshes at once run one after the other and a
    /// caller that finds nothing stored waits for it; callers that find the
    /// old result meanwhile are served it until the new one replaces it.
    ///
    /// ```
    /// # memory::set_default(memory::Memory::new(tempfile::tempdir().unwrap().keep())).unwrap();
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// static RUNS: AtomicU64 = AtomicU64::new(0);
    ///
    /// #[memory::cache]
    /// fn fetch(page: u64) -> u64 {
    ///     RUNS.fetch_add(1, Ordering::Relaxed) + page
    /// }
    ///
    /// assert_eq!(fetch(10), 10);
    /// assert_eq!(memory::handle(|| fetch(10)).refresh(), 11);
    /// assert_eq!(fetch(10), 11, "the refreshed result is stored");
    /// assert_eq!(RUNS.load(Ordering::Relaxed), 2);
    /// ```
    pub fn refresh(self) -> R {
        let (output, _) = probed::<R>(Mode::Recompute, self.call);
        output.expect("a recomputing call returns its output")
    }

    /// Removes every stored result of the function (every argument, every
    /// code version), from the `Memory` it caches in (joblib's
    /// `MemorizedFunc.clear`). The call only names the function: it is
    /// looked up, never run.
    #[cfg(panic = "unwind")]
    pub fn clear(self) -> io::Result<()> {
        clear(&probed::<R>(Mode::Identify, self.call).1)
    }

    /// The identity the function's results are stored under:
    /// `crate::module::f`, `crate::module::Type::method`, or its
    /// `name = "..."`. The call only names the function: it is looked up,
    /// never run.
    #[cfg(panic = "unwind")]
    pub fn identity(self) -> String {
        identity(&probed::<R>(Mode::Identify, self.call).1)
    }
}

impl<C, F> Handle<C>
where
    C: FnOnce() -> F,
    F: Future,
{
    /// [`Handle::call`] for an `async fn`.
    pub async fn call_async(self) -> (F::Output, Option<EntryInfo>) {
        let (output, outcome) = ProbedFuture::new(Mode::Recompute, (self.call)()).await;
        let output = output.expect("a recomputing call returns its output");
        (output, stored_info(&outcome))
    }

    /// [`Handle::call_and_shelve`] for an `async fn`.
    pub async fn call_and_shelve_async(self) -> Result<MemorizedResult, F::Output> {
        let (output, outcome) = ProbedFuture::new(Mode::Shelve, (self.call)()).await;
        shelved(&outcome).ok_or_else(|| output.expect("an unshelved call returns its output"))
    }

    /// [`Handle::check_call_in_cache`] for an `async fn`.
    #[cfg(panic = "unwind")]
    pub async fn check_call_in_cache_async(self) -> bool {
        ProbedFuture::new(Mode::Check, (self.call)()).await.1.hit
    }

    /// [`Handle::why_not`] for an `async fn`.
    #[cfg(panic = "unwind")]
    pub async fn why_not_async(self) -> Option<MissReason> {
        why_not(ProbedFuture::new(Mode::Check, (self.call)()).await.1)
    }

    /// [`Handle::refresh`] for an `async fn`.
    pub async fn refresh_async(self) -> F::Output {
        let (output, _) = ProbedFuture::new(Mode::Recompute, (self.call)()).await;
        output.expect("a recomputing call returns its output")
    }

    /// [`Handle::clear`] for an `async fn`.
    #[cfg(panic = "unwind")]
    pub async fn clear_async(self) -> io::Result<()> {
        clear(&ProbedFuture::new(Mode::Identify, (self.call)()).await.1)
    }

    /// [`Handle::identity`] for an `async fn`.
    #[cfg(panic = "unwind")]
    pub async fn identity_async(self) -> String {
        identity(&ProbedFuture::new(Mode::Identify, (self.call)()).await.1)
    }
}

/// A stored output, by reference (joblib's `MemorizedResult`): where it is,
/// its metadata, and how to load or remove it. It holds no output, so it is
/// cheap to keep, clone and send to another thread.
#[derive(Debug, Clone)]
pub struct MemorizedResult {
    function: &'static CachedFn,
    shelf: Shelf,
    info: EntryInfo,
}

impl MemorizedResult {
    /// Loads the stored output as `T`, the type it was stored as (for a
    /// function returning `Result<T, E>`, `T`).
    ///
    /// Fails if the entry was removed or damaged since, or holds another type.
    pub fn get<T: DeserializeOwned>(&self) -> io::Result<T> {
        let found = probe::read_shelf(self.function, &self.shelf).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("no usable entry for {} any more", self.info.call),
            )
        })?;
        found
            .output()
            .map_err(|problem| io::Error::new(io::ErrorKind::InvalidData, problem))
    }

    /// Removes the stored output (only this call's).
    pub fn clear(&self) -> io::Result<()> {
        match self.shelf.memory.store() {
            Some(store) => store.remove(&self.shelf.path),
            None => Ok(()),
        }
    }

    /// The stored call's metadata.
    pub fn info(&self) -> &EntryInfo {
        &self.info
    }
}

/// What a [`Mode::Check`] probe found: nothing when the call would hit.
#[cfg(panic = "unwind")]
fn why_not(outcome: Outcome) -> Option<MissReason> {
    match outcome.hit {
        true => None,
        false => Some(outcome.reason.unwrap_or(MissReason::Absent)),
    }
}

fn stored_info(outcome: &Outcome) -> Option<EntryInfo> {
    let function = outcome.function?;
    probe::read_shelf(function, outcome.shelf.as_ref()?)?.info()
}

fn shelved(outcome: &Outcome) -> Option<MemorizedResult> {
    let function = outcome.function?;
    let shelf = outcome.shelf.clone()?;
    let info = probe::read_shelf(function, &shelf)?.info()?;
    Some(MemorizedResult {
        function,
        shelf,
        info,
    })
}

#[cfg(panic = "unwind")]
fn identity(outcome: &Outcome) -> String {
    let function = outcome
        .function
        .expect("an identified call names its function");
    function.derived().identity.clone()
}

#[cfg(panic = "unwind")]
fn clear(outcome: &Outcome) -> io::Result<()> {
    crate::call::forget_known_calls();
    let function = outcome
        .function
        .expect("an identified call names its function");
    match function.memory().store() {
        Some(store) => store.remove_function(&function.derived().dir),
        None => Ok(()),
    }
}

/// Panics: the closure made no cached call the handle could act on.
#[track_caller]
fn no_cached_call(returns: &str) -> ! {
    panic!(
        "memory::handle: the closure made no cached call returning {returns} on its thread \
         (the handle acts on the `#[memory::cache]` call whose result the closure returns; \
         for an `async fn`, use the `_async` methods)"
    )
}

/// What the probe of a finished closure reported; panics if no call acted
/// on it.
fn reported<R>(outcome: &std::sync::Mutex<Outcome>) -> Outcome {
    let outcome = std::mem::take(&mut *outcome.lock().unwrap_or_else(PoisonError::into_inner));
    if outcome.function.is_none() {
        no_cached_call(std::any::type_name::<R>());
    }
    outcome
}

/// Runs `call` with a probe of `mode` set; returns its output (none when
/// the probe ended the call early) and what the probe reported.
fn probed<R>(mode: Mode, call: impl FnOnce() -> R) -> (Option<R>, Outcome) {
    let probe = Probe::new::<R>(mode);
    let outcome = probe.outcome.clone();
    let installed = probe::install(Some(probe));
    let output = run_catching(call).ok();
    drop(installed);
    (output, reported::<R>(&outcome))
}

/// Runs `f`; `Err` when a probe ended it early. Any other panic goes on.
#[cfg(panic = "unwind")]
fn run_catching<R>(f: impl FnOnce() -> R) -> Result<R, ()> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(output) => Ok(output),
        Err(payload) if payload.is::<probe::ProbeDone>() => Err(()),
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

#[cfg(not(panic = "unwind"))]
fn run_catching<R>(f: impl FnOnce() -> R) -> Result<R, ()> {
    Ok(f())
}

/// Polls a future with a probe set on the polling thread; the cached calls
/// it makes take the probe (see `call/probe.rs`).
struct ProbedFuture<F> {
    future: Pin<Box<F>>,
    probe: Option<Probe>,
    outcome: std::sync::Arc<std::sync::Mutex<Outcome>>,
}

impl<F: Future> ProbedFuture<F> {
    fn new(mode: Mode, future: F) -> Self {
        let probe = Probe::new::<F::Output>(mode);
        ProbedFuture {
            future: Box::pin(future),
            outcome: probe.outcome.clone(),
            probe: Some(probe),
        }
    }
}

impl<F: Future> Future for ProbedFuture<F> {
    type Output = (Option<F::Output>, Outcome);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let installed = probe::install(this.probe.take());
        let polled = run_catching(|| this.future.as_mut().poll(cx));
        // Held by a call that is awaiting, or back on the thread.
        this.probe = installed.remove();
        match polled {
            Err(()) => Poll::Ready((None, reported::<F::Output>(&this.outcome))),
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => {
                Poll::Ready((Some(output), reported::<F::Output>(&this.outcome)))
            }
        }
    }
}

impl<F> Unpin for ProbedFuture<F> {}
