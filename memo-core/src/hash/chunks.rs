//! The chunks of one large run, claimed one at a time by whichever thread
//! gets to each: the caller and the pool's helpers (`pool.rs`). A run may
//! be hashed as a whole, or *filled* while it is hashed (a load reads the
//! bytes into place chunk by chunk and marks each one ready; helpers claim
//! only ready chunks, so the checksum runs on another core right behind the
//! reads).

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::Digest;
use super::run::CHUNK;
use super::wide::xxh3_128;

/// How long a helper pauses (a `sched_yield` at a time) for a chunk that is
/// not ready before it sleeps until it is: longer than a 1 MiB read from
/// the page cache takes (~50 µs on a fast machine, ~0.5 ms on a slow one).
/// Sleeping sooner costs more than the pauses: a helper woken for every
/// chunk ran on the reader's own core about half the time (the kernel puts
/// a woken thread near its waker), and a 16 MiB load took 1.0 ms instead of
/// 0.65. A read slower than this (a cold disk) costs at most this much
/// spinning a chunk.
const PAUSE_BEFORE_SLEEP: Duration = Duration::from_millis(1);

/// The chunk digests of one run, filled by whichever thread claims each.
pub(super) struct Chunks<'a> {
    /// The run's bytes, `len` of them. Behind a raw pointer, not a slice:
    /// while a job is being filled, the caller writes chunks that have not
    /// been marked ready while helpers read those that have.
    start: *const u8,
    len: usize,
    /// Chunks below this index hold their final bytes and may be hashed.
    ready: AtomicUsize,
    /// The next chunk to claim; the number of chunks or more: none left.
    next: AtomicUsize,
    /// Set when the work failed: no chunk is claimed any more.
    cancelled: AtomicBool,
    /// Helpers asleep in [`Chunks::sleep_until_ready`], and what they
    /// sleep on.
    sleepers: AtomicUsize,
    asleep: Mutex<()>,
    woken: Condvar,
    /// Each chunk's xxh3-128, as two halves (written once, by its claimer;
    /// read by the caller after every helper has left the job, which the
    /// pool's mutex orders after the writes).
    digests: Box<[[AtomicU64; 2]]>,
    _bytes: PhantomData<&'a [u8]>,
}

// SAFETY: the bytes are only read, each chunk once it is ready (after its
// last write, which `ready`'s release/acquire orders before the reads);
// everything else is atomics.
unsafe impl Sync for Chunks<'_> {}

impl<'a> Chunks<'a> {
    /// The chunks of `bytes`, all ready.
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        let chunks = Chunks::of(bytes.as_ptr(), bytes.len());
        chunks.mark_ready(chunks.digests.len());
        chunks
    }

    /// The chunks of the `len` bytes at `start`, none ready: the caller
    /// fills them in order and marks each ready ([`Chunks::mark_ready`]).
    ///
    /// # Safety
    ///
    /// `start` must be valid for reads of `len` bytes for `'a`, and nothing
    /// may write a chunk once it is marked ready.
    pub(super) unsafe fn filling(start: *const u8, len: usize) -> Self {
        Chunks::of(start, len)
    }

    fn of(start: *const u8, len: usize) -> Self {
        Chunks {
            start,
            len,
            ready: AtomicUsize::new(0),
            next: AtomicUsize::new(0),
            cancelled: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            asleep: Mutex::new(()),
            woken: Condvar::new(),
            digests: (0..len.div_ceil(CHUNK))
                .map(|_| Default::default())
                .collect(),
            _bytes: PhantomData,
        }
    }

    /// Marks the chunks below `count` filled.
    pub(super) fn mark_ready(&self, count: usize) {
        // SeqCst, with the sleeper count below and in `sleep_until_ready`:
        // either the sleeper sees the chunk ready, or this sees the sleeper.
        self.ready.store(count, Ordering::SeqCst);
        self.wake_sleepers();
    }

    fn wake_sleepers(&self) {
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = self.asleep.lock().unwrap_or_else(PoisonError::into_inner);
            self.woken.notify_all();
        }
    }

    /// Sleeps until chunk `index` is marked ready or the job is cancelled
    /// (or a while has passed: a safety net, the caller looks again).
    fn sleep_until_ready(&self, index: usize) {
        let guard = self.asleep.lock().unwrap_or_else(PoisonError::into_inner);
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        if index >= self.ready.load(Ordering::SeqCst) && !self.cancelled.load(Ordering::SeqCst) {
            // Whoever marks a chunk or cancels takes `asleep` to notify,
            // which it can only do once this wait has released it.
            let _ = self.woken.wait_timeout(guard, Duration::from_millis(10));
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
    }

    /// Claims the next chunk: `None` when none is left. A chunk not ready
    /// yet is waited for if `wait`, else left to claim later.
    fn claim(&self, wait: bool) -> Option<usize> {
        let mut waiting_since = None;
        loop {
            let index = self.next.load(Ordering::Relaxed);
            if index >= self.digests.len() || self.cancelled.load(Ordering::Relaxed) {
                return None;
            }
            if index >= self.ready.load(Ordering::Acquire) {
                if !wait {
                    return None;
                }
                // The caller is reading it: pause a system call at a time
                // (the caller may need this core), and sleep if the read
                // takes long (see `PAUSE_BEFORE_SLEEP`).
                let since = *waiting_since.get_or_insert_with(Instant::now);
                match since.elapsed() < PAUSE_BEFORE_SLEEP {
                    true => std::thread::yield_now(),
                    false => self.sleep_until_ready(index),
                }
                continue;
            }
            if self
                .next
                .compare_exchange_weak(index, index + 1, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                return Some(index);
            }
        }
    }

    /// Claims and hashes chunks until none is left (`wait`: also those not
    /// ready yet, as they become ready).
    pub(super) fn hash_claimed(&self, wait: bool) {
        while let Some(index) = self.claim(wait) {
            let start = index * CHUNK;
            let end = (start + CHUNK).min(self.len);
            // SAFETY: the chunk is ready (never written again) and within
            // the `len` bytes at `start` (`Chunks::filling`'s contract).
            let bytes = unsafe { std::slice::from_raw_parts(self.start.add(start), end - start) };
            let digest = xxh3_128(bytes);
            let [low, high] = &self.digests[index];
            low.store(digest as u64, Ordering::Relaxed);
            high.store((digest >> 64) as u64, Ordering::Relaxed);
        }
    }

    /// Leaves the chunks no one has claimed unhashed.
    pub(super) fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.wake_sleepers();
    }

    /// The chunk digests in order; all must have been hashed.
    pub(super) fn digests(&self) -> impl Iterator<Item = Digest> + '_ {
        self.digests.iter().map(|[low, high]| {
            u128::from(low.load(Ordering::Relaxed)) | u128::from(high.load(Ordering::Relaxed)) << 64
        })
    }
}
