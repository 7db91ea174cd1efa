//! Dependencies recorded as they run: while a cached function's miss runs,
//! every `#[memory::cache]` and `#[memory::fingerprint]` function entered
//! on the same thread (or, for an `async fn`, inside the same future) is
//! recorded with its identity and fingerprint, and the set is stored with
//! the entry; a later lookup whose binary has another fingerprint for one of
//! them is a miss.
//!
//! - **Recording** is a stack of frames per thread. A miss opens a frame
//!   around its body (`recording`, or [`Recording`] around each poll of
//!   an `async` body); [`Dependency::enter`], called first thing by every
//!   annotated function, adds to the top frame. A closed frame is added to
//!   the frame below it, so a nested miss's dependencies are its caller's
//!   too; a cached callee that hits adds itself and the dependencies its
//!   entry recorded ([`extend`]). With no frame open, entering an annotated
//!   function is one thread-local read.
//! - **Registration**: every annotated function has a `static`
//!   [`Dependency`], linked into one list before `main` by a constructor
//!   the expansion puts in the function's body (`__memo_register!`; a
//!   cached function's constructor registers its `CachedFn`, which
//!   registers its dependency). It holds no `unsafe` code, so it is
//!   legal inside methods without tripping `clippy::unsafe_derive_deserialize`
//!   (see `registry.rs`). A dependency is recorded by its identity
//!   (`crate::module::name`), or by identity and location when several
//!   definitions share the identity ([`Dependency::recorded`]).
//! - **Checking**: [`check`] walks an entry's recorded list (read without
//!   decoding the metadata, `entry/deps.rs`) and compares each fingerprint
//!   with this binary's, from an index built once from the list: one hash
//!   lookup and one 32-byte comparison per dependency, no allocation. An
//!   entry without dependencies costs one map header and one short string.
//! - **Reverting**: a result whose dependencies changed is kept, when the
//!   miss replaces it, under a key of its call and its dependencies'
//!   fingerprints (`key::deps_key`); a lookup whose recorded dependencies
//!   differ from this binary's looks there first (`call.rs`).
//!
//! Work handed to other threads (spawned threads, `std::thread::scope`,
//! rayon, other tasks) is not seen: `depends_on` stays for that. (Carrying
//! a frame into `std::thread::scope` would need a wrapper of ours around
//! each spawn; not done.)

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::task::{Context, Poll};

use xxhash_rust::xxh3::Xxh3Builder;

use crate::entry::deps::{RawDep, RecordedDeps, hex_digits};
use crate::entry::{DepRecord, Entry, EntryError};
use crate::hash::Digest;

/// An annotated function as a dependency: its identity and fingerprint.
/// Generated code holds one in a `static` and registers it before `main`.
#[derive(Debug)]
pub struct Dependency {
    identity: &'static str,
    /// `file:line:column` of its name: tells apart definitions that share
    /// the identity (see [`Recorded`]).
    location: &'static str,
    fingerprint: u128,
    /// The next registered dependency.
    next: AtomicPtr<Dependency>,
}

impl Dependency {
    /// `identity` is `crate::module::name` (or a cached function's
    /// `name = "..."`), `location` the `file:line:column` of its name;
    /// `const` so it can initialize a `static`.
    pub const fn new(
        identity: &'static str,
        location: &'static str,
        fingerprint: u128,
    ) -> Dependency {
        Dependency {
            identity,
            location,
            fingerprint,
            next: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// `crate::module::name`, or a cached function's `name = ".."`.
    pub(crate) fn identity(&self) -> &'static str {
        self.identity
    }

    /// `file:line:column` of its name.
    pub(crate) fn location(&self) -> &'static str {
        self.location
    }

    /// Adds this dependency to the binary's list; called once, before
    /// `main`, by the constructor the expansion emits.
    pub fn register(&'static self) {
        let this = std::ptr::from_ref(self).cast_mut();
        let mut head = REGISTERED.load(Ordering::Acquire);
        loop {
            self.next.store(head, Ordering::Relaxed);
            match REGISTERED.compare_exchange_weak(head, this, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return,
                Err(now) => head = now,
            }
        }
    }

    /// Records this function in the miss running on this thread, if any:
    /// the first thing an annotated function does.
    #[inline]
    pub fn enter(&'static self) {
        if DEPTH.get() != 0 {
            push(self.recorded());
        }
    }

    /// How a miss records it: by its identity, or, when several
    /// definitions share that identity (two methods `new` of one module,
    /// nested functions of one name), by its identity and location, so an
    /// edit of one is never hidden by another with the same code. Such a
    /// definition's results are recomputed when lines above it move.
    #[cold]
    fn recorded(&self) -> Recorded {
        let identity = match index().get(self.identity.as_bytes()) {
            Some(Known::Shared) => Cow::Owned(format!("{}@{}", self.identity, self.location)),
            _ => Cow::Borrowed(self.identity),
        };
        Recorded {
            identity,
            fingerprint: self.fingerprint,
        }
    }
}

/// The head of the list of registered dependencies.
static REGISTERED: AtomicPtr<Dependency> = AtomicPtr::new(std::ptr::null_mut());

/// Every registered dependency.
fn registered() -> impl Iterator<Item = &'static Dependency> {
    let mut at = REGISTERED.load(Ordering::Acquire);
    std::iter::from_fn(move || {
        // SAFETY: only `&'static Dependency`s are ever linked (`register`),
        // and a link, once set, is never changed again (each `static`
        // registers once, from its constructor).
        let dependency: &'static Dependency = unsafe { at.as_ref()? };
        at = dependency.next.load(Ordering::Acquire);
        Some(dependency)
    })
}

/// Registers `$item` (a `static Dependency` or `CachedFn`) before `main`,
/// calling its `register`: a constructor in the platform's initializer
/// section, as `inventory` does, but without `unsafe` code in the user's
/// function (see the module docs). One per annotated function.
#[doc(hidden)]
#[macro_export]
macro_rules! __memo_register {
    ($item:ident) => {
        #[used]
        #[cfg_attr(
            any(
                target_os = "linux",
                target_os = "android",
                target_os = "freebsd",
                target_os = "netbsd",
                target_os = "openbsd",
                target_os = "dragonfly",
                target_os = "illumos",
            ),
            unsafe(link_section = ".init_array")
        )]
        #[cfg_attr(
            any(target_os = "macos", target_os = "ios"),
            unsafe(link_section = "__DATA,__mod_init_func")
        )]
        #[cfg_attr(windows, unsafe(link_section = ".CRT$XCU"))]
        static __MEMO_REGISTER: extern "C" fn() = {
            extern "C" fn __memo_register() {
                $item.register();
            }
            __memo_register
        };
    };
}

/// A dependency as recorded: borrowed from its `static`, or read from a
/// callee's entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Recorded {
    pub identity: Cow<'static, str>,
    pub fingerprint: u128,
}

impl Recorded {
    /// As the entry's metadata holds it.
    pub(crate) fn to_record(&self) -> DepRecord {
        DepRecord {
            identity: self.identity.clone().into_owned(),
            fingerprint: format!("{:032x}", self.fingerprint),
        }
    }
}

thread_local! {
    /// How many frames are open on this thread: the one check an annotated
    /// function pays outside a miss.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// The open frames, innermost last.
    static FRAMES: RefCell<Vec<Vec<Recorded>>> = const { RefCell::new(Vec::new()) };
}

/// Whether a miss is recording on this thread.
#[inline]
pub(crate) fn active() -> bool {
    DEPTH.get() != 0
}

/// Adds `recorded` to the innermost frame, once.
fn push(recorded: Recorded) {
    let _ = FRAMES.try_with(|frames| {
        if let Ok(mut frames) = frames.try_borrow_mut()
            && let Some(frame) = frames.last_mut()
            && !frame.contains(&recorded)
        {
            frame.push(recorded);
        }
    });
}

/// Adds dependencies to the innermost frame (a callee's, when it returns).
pub(crate) fn extend(recorded: impl IntoIterator<Item = Recorded>) {
    if active() {
        recorded.into_iter().for_each(push);
    }
}

/// An open frame; closing it (or unwinding through it) hands its
/// dependencies to the frame below.
/// An open frame: what annotated functions entered on this thread since
/// it opened is recorded in it, until it is closed (or dropped, by an
/// unwind).
pub(crate) struct Frame {
    closed: bool,
}

impl Frame {
    /// Opens a frame on this thread, holding `start`.
    pub(crate) fn open(start: Vec<Recorded>) -> Frame {
        FRAMES.with_borrow_mut(|frames| frames.push(start));
        DEPTH.set(DEPTH.get() + 1);
        Frame { closed: false }
    }

    /// The frame's dependencies, also added to the frame below.
    fn close(mut self) -> Vec<Recorded> {
        self.closed = true;
        pop()
    }

    /// [`Frame::close`], the dependencies sorted, as entries record them.
    pub(crate) fn close_sorted(self) -> Vec<Recorded> {
        let mut recorded = self.close();
        recorded.sort();
        recorded
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        if !self.closed {
            pop();
        }
    }
}

fn pop() -> Vec<Recorded> {
    DEPTH.set(DEPTH.get() - 1);
    let recorded = FRAMES
        .with_borrow_mut(|frames| frames.pop())
        .unwrap_or_default();
    extend(recorded.iter().cloned());
    recorded
}

/// Runs `body` with a frame open; returns its output and what it recorded,
/// sorted. (A cached call opens its [`Frame`] itself: its body runs in the
/// generated code, between the call's lookup and its completion.)
#[cfg(test)]
pub(crate) fn recording<T>(body: impl FnOnce() -> T) -> (T, Vec<Recorded>) {
    let frame = Frame::open(Vec::new());
    let output = body();
    (output, frame.close_sorted())
}

/// A future whose every poll runs with its own frame open: an `async`
/// body's dependencies, whichever thread polls it.
///
/// Public (hidden) because generated code awaits it, and lean: the body is
/// pinned in place, and the frame work is not generic, since this is
/// compiled once per `async` cached function.
pub struct Recording<F> {
    body: F,
    /// What the body recorded in its polls so far.
    recorded: Vec<Recorded>,
}

/// What a [`Recording`] returns: the body's output and the dependencies
/// it recorded, sorted.
pub struct Ran<R> {
    pub(crate) output: R,
    pub(crate) deps: Vec<Recorded>,
}

impl<F: Future> Recording<F> {
    pub(crate) fn new(body: F) -> Recording<F> {
        Recording {
            body,
            recorded: Vec::new(),
        }
    }
}

impl<F: Future> Future for Recording<F> {
    type Output = Ran<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `body` is pinned structurally: nothing moves it out of a
        // pinned `Recording` or hands out `&mut F` but as `Pin<&mut F>`
        // below, and `Recording` has no `Drop` impl (it is `Unpin` only
        // when `F` is).
        let this = unsafe { self.get_unchecked_mut() };
        let frame = Frame::open(std::mem::take(&mut this.recorded));
        // SAFETY: as above: `body` stays where it is, pinned.
        let polled = unsafe { Pin::new_unchecked(&mut this.body) }.poll(cx);
        // Closing hands what was recorded so far to the frame below (the
        // caller's, which is open around this poll when the caller is a
        // miss awaiting this future); it keeps each dependency once.
        match polled {
            Poll::Pending => {
                this.recorded = frame.close();
                Poll::Pending
            }
            Poll::Ready(output) => Poll::Ready(Ran {
                output,
                deps: frame.close_sorted(),
            }),
        }
    }
}

/// What this binary knows of an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    /// One definition, with this fingerprint as entries record it (hex
    /// digits), so a hit compares bytes.
    Unique([u8; 32]),
    /// Several definitions: they are recorded as `identity@location`, and
    /// the plain identity never matches.
    Shared,
}

/// This binary's dependencies, by identity, and by `identity@location` for
/// the definitions of a shared identity.
type Index = HashMap<Box<[u8]>, Known, Xxh3Builder>;

/// The index, built once from the registered dependencies.
fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut by_identity: HashMap<&'static str, Vec<&'static Dependency>> = HashMap::new();
        for dependency in registered() {
            let definitions = by_identity.entry(dependency.identity).or_default();
            if !definitions
                .iter()
                .any(|d| d.location == dependency.location)
            {
                definitions.push(dependency);
            }
        }
        let mut index = Index::default();
        for (identity, definitions) in by_identity {
            let known = |d: &Dependency| Known::Unique(hex_digits(d.fingerprint));
            if let [only] = definitions[..] {
                index.insert(identity.as_bytes().into(), known(only));
                continue;
            }
            index.insert(identity.as_bytes().into(), Known::Shared);
            for definition in definitions {
                let qualified = format!("{identity}@{}", definition.location);
                index.insert(qualified.into_bytes().into(), known(definition));
            }
        }
        index
    })
}

/// A recorded dependency whose fingerprint this binary does not have.
#[derive(Debug)]
pub(crate) struct Changed {
    /// The first such dependency's identity.
    pub identity: String,
    /// Whether this binary has a function of that identity at all.
    pub exists: bool,
    /// The key of the result computed with this binary's dependencies:
    /// where an earlier result for them may be kept (`key::deps_key`).
    pub current: Digest,
    /// The key the found entry is kept under once it is replaced.
    pub recorded: Digest,
}

/// Why an entry's recorded dependencies do not allow a hit.
#[derive(Debug)]
pub(crate) enum Unusable {
    /// The list does not read (a foreign writer).
    Malformed(EntryError),
    /// A dependency changed.
    Changed(Box<Changed>),
}

/// Whether the dependencies `entry` (stored under `key`) recorded are those
/// of this binary. A hit pays one hash lookup and one 32-byte comparison
/// per recorded dependency.
pub(crate) fn check(entry: &Entry<'_>, key: Digest) -> Result<(), Unusable> {
    let deps = RecordedDeps::of(entry.meta_bytes()).map_err(Unusable::Malformed)?;
    if deps.len() == 0 {
        return Ok(());
    }
    let index = index();
    for dep in deps.clone() {
        let dep = dep.map_err(Unusable::Malformed)?;
        let known = index.get(dep.identity);
        if !matches!(known, Some(Known::Unique(digits)) if digits.as_slice() == dep.fingerprint) {
            return Err(changed(deps, dep, known.is_some(), key));
        }
    }
    Ok(())
}

/// What [`check`] says of a dependency that changed (`dep`, whose identity
/// is known to this binary if `exists`): the keys of the results for this
/// binary's dependencies and for the recorded ones.
#[cold]
fn changed(deps: RecordedDeps<'_>, dep: RawDep<'_>, exists: bool, key: Digest) -> Unusable {
    let parsed: Result<Vec<(&str, u128)>, EntryError> = deps.map(|dep| dep?.parsed()).collect();
    let (recorded, identity) = match (parsed, dep.parsed()) {
        (Ok(recorded), Ok((identity, _))) => (recorded, identity),
        (Err(e), _) | (_, Err(e)) => return Unusable::Malformed(e),
    };
    let current = recorded
        .iter()
        .map(|&(identity, _)| (identity, current_fingerprint(identity)));
    Unusable::Changed(Box::new(Changed {
        identity: identity.to_owned(),
        exists,
        current: crate::key::deps_key(key, current),
        recorded: crate::key::deps_key(key, recorded.iter().map(|&(i, f)| (i, Some(f)))),
    }))
}

/// This binary's fingerprint of `identity` (`None`: none, or several).
fn current_fingerprint(identity: &str) -> Option<u128> {
    match index().get(identity.as_bytes())? {
        Known::Unique(digits) => crate::entry::deps::parse_hex(digits),
        Known::Shared => None,
    }
}

/// What a hit hands to the miss that called it: the dependencies its entry
/// recorded (its own identity was recorded when it was entered).
pub(crate) fn recorded_by(entry: &Entry<'_>) -> Vec<Recorded> {
    let Ok(deps) = RecordedDeps::of(entry.meta_bytes()) else {
        return Vec::new();
    };
    deps.filter_map(|dep| dep.ok()?.parsed().ok())
        .map(|(identity, fingerprint)| Recorded {
            identity: Cow::Owned(identity.to_owned()),
            fingerprint,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    static G: Dependency = Dependency::new("recorded_tests::g", "g.rs:1:4", 1);
    static H: Dependency = Dependency::new("recorded_tests::h", "h.rs:1:4", 2);

    #[test]
    fn nothing_is_recorded_outside_a_miss() {
        G.enter();
        assert!(!active());
        let ((), recorded) = recording(|| {});
        assert!(recorded.is_empty());
    }

    #[test]
    fn nested_frames_hand_their_dependencies_to_the_caller() {
        let (inner, outer) = recording(|| {
            G.enter();
            let ((), inner) = recording(|| {
                H.enter();
                H.enter();
            });
            G.enter();
            inner
        });
        assert_eq!(inner.len(), 1);
        let names: Vec<&str> = outer.iter().map(|r| r.identity.as_ref()).collect();
        assert_eq!(names, ["recorded_tests::g", "recorded_tests::h"]);
    }

    #[test]
    fn a_panicking_body_closes_its_frame() {
        let caught = std::panic::catch_unwind(|| recording(|| panic!("body")));
        assert!(caught.is_err());
        assert!(!active());
    }

    #[test]
    fn a_future_records_across_its_polls() {
        struct TwoPolls(bool);
        impl Future for TwoPolls {
            type Output = ();
            fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
                if self.0 {
                    H.enter();
                    return Poll::Ready(());
                }
                G.enter();
                self.0 = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
        let mut future = std::pin::pin!(Recording::new(TwoPolls(false)));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
        assert!(!active());
        let Poll::Ready(Ran { deps, .. }) = future.as_mut().poll(&mut cx) else {
            panic!("not ready");
        };
        assert_eq!(deps.len(), 2);
    }
}
