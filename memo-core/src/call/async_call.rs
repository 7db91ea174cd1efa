//! The call path of an `async fn`.
//!
//! What runs where, precisely:
//! - **On the executor, inline** (each bounded by the entry's size, never by
//!   another caller): hashing the arguments and reading the entry's head
//!   (one `read`; out-of-line arrays stay in the file) on the first poll;
//!   on a hit, checking and decoding the output (arrays are mapped with
//!   [`Memory::mmap_mode`](crate::Memory::mmap_mode), else read); on a
//!   miss, encoding the output and writing the entry (into the page cache:
//!   memo never waits for `fsync`).
//! - **Off the executor**: waiting for another caller — a task, a thread or
//!   another process — that computes the same key. A blocking wait there
//!   would stall the executor thread (and deadlock a single-threaded
//!   runtime whose other task holds the lock), so a miss takes the
//!   compute-once lock on a short-lived helper thread and the task is woken
//!   when it has it.
//! - The body is awaited like any future: the function's own `.await`s
//!   yield as usual.
//!
//! No runtime is assumed: the helper thread wakes the task through its
//! `Waker`, which works with tokio, async-std, smol or a hand-rolled
//! `block_on`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use super::stored::{Decoded, Encode, OutputSlot, Stored};
use super::{Call, Missing, Settled, State, probe};
use crate::recorded::{Recorded, Recording};
use crate::store::{EntryStore, KeyGuard};

impl Call {
    /// Looks an async call up, its output stored as `K` says: a hit (or a
    /// handle's call that does not run) returns the output; otherwise the
    /// caller runs the body through [`AsyncRun::record`] and hands what it
    /// returned to `complete_async` (`stored.rs`).
    ///
    /// Generic over the output, not over the body: compiled once per output
    /// type, not per function. No slot is held across an `.await`: each is
    /// made where it is filled, so the future is `Send` whenever the output
    /// is.
    pub(crate) async fn lookup_async<K: Stored>(mut self) -> Result<K::Output, AsyncRun> {
        let probe = match self.probed.take() {
            None => None,
            Some(probed) => match probe::probed_async::<K>(self, probed) {
                Ok(output) => return Ok(output),
                Err((call, probe)) => {
                    self = call;
                    Some(probe)
                }
            },
        };
        let stored = |output: K::Output, probe: Option<probe::Probe>| {
            if let Some(probe) = probe {
                probe::put_back(probe);
            }
            Ok(output)
        };
        let missing = match self.state {
            State::Uncached => return Err(AsyncRun::new(None, probe)),
            State::Missing(missing) => *missing,
            State::Kept(kept) => {
                let mut slot = Decoded::<K>::new();
                match super::decode_kept(&kept, &mut slot) {
                    Ok(()) => return stored(slot.output(), probe),
                    Err(reason) => super::found_from(&kept).into_missing(reason),
                }
            }
            State::Found(found) => {
                let mut slot = Decoded::<K>::new();
                match found.decode(&mut slot) {
                    Ok(()) => return stored(slot.output(), probe),
                    Err(reason) => found.into_missing(reason),
                }
            }
        };
        let missing = match missing.lock_async().await {
            Waited::Compute(missing) => missing,
            Waited::Locked(missing, store, guard) => {
                let mut slot = Decoded::<K>::new();
                match missing.relook(store, guard, &mut slot) {
                    Settled::Stored => return stored(slot.output(), probe),
                    Settled::Compute(missing) => missing,
                }
            }
        };
        Err(AsyncRun::new(Some(missing), probe))
    }
}

/// An async call whose body the caller runs now (see
/// `Call::lookup_async`). Dropped without `complete_async` (the body
/// panicked, or its future was dropped), it stores nothing, and its lock is
/// released.
pub struct AsyncRun {
    /// The miss to complete; `None`: the call runs uncached.
    missing: Option<Box<Missing>>,
    /// When the body started, once [`AsyncRun::record`] started it.
    started: Option<Instant>,
    /// A handle's probe, handed back to the thread once the call is done.
    probe: Option<probe::Probe>,
}

impl AsyncRun {
    fn new(missing: Option<Missing>, probe: Option<probe::Probe>) -> AsyncRun {
        AsyncRun {
            missing: missing.map(Box::new),
            started: None,
            probe,
        }
    }

    /// Starts the miss (its reason decided and traced) and returns `body`
    /// with the dependencies it runs recorded, whichever thread polls it.
    pub fn record<F: Future>(&mut self, body: F) -> Recording<F> {
        if let Some(missing) = &mut self.missing {
            self.started = Some(missing.start());
        }
        Recording::new(body)
    }

    /// Stores `kept`, what is kept of the body's output (`None`: nothing),
    /// with the dependencies it recorded; reloads the entry into `slot`
    /// when the output is returned as stored (arrays mapped).
    pub(crate) fn complete(
        self,
        kept: Option<&dyn Encode>,
        slot: &mut dyn OutputSlot,
        deps: &[Recorded],
    ) {
        if let (Some(missing), Some(started)) = (self.missing, self.started) {
            missing.complete(started, kept, slot, deps);
        }
        if let Some(probe) = self.probe {
            probe::put_back(probe);
        }
    }
}

/// A miss once its wait for the compute-once lock is over.
enum Waited {
    /// The lock is held: look again, another caller may have stored it.
    Locked(Missing, &'static dyn EntryStore, KeyGuard),
    /// Compute without it (none to take, tried already, or waited past
    /// the limit).
    Compute(Missing),
}

impl Missing {
    /// [`Missing::settle`] without blocking the executor: the lock is
    /// taken on a helper thread; the caller looks again once it holds it.
    ///
    /// A boxed future made here, so that it is compiled once, in memo-core,
    /// not in every crate whose async fns await it (an `async fn` awaited
    /// only by generic code is compiled where that code is).
    fn lock_async(self) -> Pin<Box<dyn Future<Output = Waited> + Send>> {
        Box::pin(self.wait_for_lock())
    }

    async fn wait_for_lock(mut self) -> Waited {
        if self.lock_tried {
            return Waited::Compute(self);
        }
        self.lock_tried = true;
        let Some(store) = self.target.memory.store() else {
            return Waited::Compute(self);
        };
        let key = self.target.key;
        let limit = self.target.wait_limit();
        match off_executor(move || store.lock_within(key, limit)).await {
            Ok(Some(guard)) => Waited::Locked(self, store, guard),
            Ok(None) => {
                let call = self.call.clone();
                super::gave_up_waiting(&self.target, limit, || call);
                Waited::Compute(self)
            }
            Err(e) => {
                tracing::debug!(target: "memory", path = self.target.path, %e, "no compute-once lock");
                Waited::Compute(self)
            }
        }
    }
}

/// Runs `work` on a helper thread and waits for it without blocking.
fn off_executor<T: Send + From<NoThread> + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> impl Future<Output = T> {
    let shared = Arc::new(Mutex::new(Slot::<T> {
        value: None,
        waker: None,
    }));
    let filled = Arc::clone(&shared);
    let spawned = std::thread::Builder::new()
        .name("memo-wait".into())
        .spawn(move || {
            let value = work();
            let waker = {
                let mut slot = filled.lock().unwrap_or_else(PoisonError::into_inner);
                slot.value = Some(value);
                slot.waker.take()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        });
    OffExecutor {
        shared,
        failed: spawned.is_err(),
    }
}

struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

struct OffExecutor<T> {
    shared: Arc<Mutex<Slot<T>>>,
    /// No thread could be started: the wait never ends, so give up on it.
    failed: bool,
}

impl<T> Future for OffExecutor<T>
where
    T: From<NoThread>,
{
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        if self.failed {
            return Poll::Ready(T::from(NoThread));
        }
        let mut slot = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.value.take() {
            Some(value) => Poll::Ready(value),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// No helper thread could be started.
pub(crate) struct NoThread;

impl From<NoThread> for std::io::Result<Option<KeyGuard>> {
    fn from(NoThread: NoThread) -> Self {
        Err(std::io::Error::other(
            "cannot start a thread to wait for the compute-once lock",
        ))
    }
}
