//! Helper threads that hash the chunks of a large run beside the caller.
//!
//! The chunks of a [`run_digest`](super::run_digest) are independent, so any
//! thread can hash any of them. The caller publishes a *job* (the bytes, a
//! counter of the next chunk to claim, a slot per chunk digest); helpers —
//! parked threads started once per process, one per core but the caller's —
//! claim chunks one at a time, and so does the caller once its own work
//! (nothing, or writing the bytes to a file) is done. So a helper that
//! wakes late, or on the caller's own core, costs its wake-up and nothing
//! more: what it has not claimed, the caller hashes. The caller waits only
//! for chunks a helper is hashing at that moment, never for a helper to
//! start. (Threads spawned per call, split in fixed halves, cost ~60 µs to
//! start on a small VM, and a half handed to a thread the scheduler put on
//! the caller's core ran after the caller's: a 16 MiB hash took as long as
//! on one core.)
//!
//! A job may also be *filled* while it is hashed (`chunks.rs`): helpers
//! then claim only the chunks the caller has marked ready.
//!
//! One job at a time: a caller that finds another's job published hashes
//! alone (the other caller's helpers are busy anyway). A forked child has
//! no helpers: it hashes alone too.

use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};

use super::chunks::Chunks;

/// At most this many helpers, however many cores: beyond a few, hashing
/// is bound by memory bandwidth, and every helper is a parked thread.
const MAX_HELPERS: usize = 7;

/// Hashes every chunk of `chunks` with the helpers, while this thread runs
/// `work`, then joins them; returns `work`'s result. `work` is told
/// whether helpers are hashing beside it (if not, it may hash chunks itself
/// as they become ready: `chunks.hash_claimed(false)`). If `work` fails,
/// the chunks no one has claimed yet stay unhashed.
pub(super) fn hash_beside<T, E>(
    chunks: &Chunks<'_>,
    work: impl FnOnce(bool) -> Result<T, E>,
) -> Result<T, E> {
    let published = pool().and_then(|pool| pool.publish(chunks));
    let result = work(published.is_some());
    match &result {
        Ok(_) => chunks.hash_claimed(true),
        Err(_) => chunks.cancel(),
    }
    drop(published);
    result
}

/// The helpers of this process.
struct Pool {
    state: Mutex<State>,
    /// Signalled when a job is published.
    wake: Condvar,
    /// Signalled when a helper leaves a job.
    left: Condvar,
    /// The process that started the helpers.
    pid: u32,
}

struct State {
    job: Option<Job>,
    /// Counts published jobs, so that a helper enters each at most once.
    generation: u64,
    /// Helpers inside the published (or just retracted) job.
    inside: usize,
}

/// A published job: its chunks, their lifetime erased. Valid while
/// published; see [`Published`].
#[derive(Clone, Copy)]
struct Job(*const Chunks<'static>);

// SAFETY: `Chunks` is `Sync` (see `chunks.rs`); the pointer is
// followed only while the job is published or a helper is inside it.
unsafe impl Send for Job {}

/// The helpers, started on first use; `None` on a single core, in a forked
/// child, or when no thread could be started.
fn pool() -> Option<&'static Pool> {
    static POOL: OnceLock<Option<&'static Pool>> = OnceLock::new();
    let pool = (*POOL.get_or_init(start))?;
    (pool.pid == std::process::id()).then_some(pool)
}

fn start() -> Option<&'static Pool> {
    let helpers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .saturating_sub(1)
        .min(MAX_HELPERS);
    if helpers == 0 {
        return None;
    }
    // Leaked: the helpers live as long as the process.
    let pool: &'static Pool = Box::leak(Box::new(Pool {
        state: Mutex::new(State {
            job: None,
            generation: 0,
            inside: 0,
        }),
        wake: Condvar::new(),
        left: Condvar::new(),
        pid: std::process::id(),
    }));
    let started = (0..helpers)
        .filter(|_| {
            std::thread::Builder::new()
                .name("memo-hash".into())
                .stack_size(256 << 10)
                .spawn(move || pool.help())
                .is_ok()
        })
        .count();
    (started > 0).then_some(pool)
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Publishes `chunks` to the helpers, unless another job is published;
    /// the job is retracted when the result is dropped.
    fn publish<'c>(&'static self, chunks: &'c Chunks<'_>) -> Option<Published<'c>> {
        let mut state = self.lock();
        if state.job.is_some() {
            return None;
        }
        state.job = Some(Job(std::ptr::from_ref(chunks).cast()));
        state.generation += 1;
        drop(state);
        self.wake.notify_all();
        Some(Published { pool: self, chunks })
    }

    /// A helper's life: enter each published job once, hash chunks until
    /// none is left, leave.
    fn help(&self) {
        let mut seen = 0;
        let mut state = self.lock();
        loop {
            match state.job {
                Some(job) if state.generation != seen => {
                    seen = state.generation;
                    state.inside += 1;
                    drop(state);
                    // SAFETY: the job was published when we entered it (under
                    // the lock), and its publisher retracts it and waits for
                    // `inside` to fall back to 0 before its chunks go away
                    // (`Published::drop`, which runs on unwind too).
                    unsafe { &*job.0 }.hash_claimed(true);
                    state = self.lock();
                    state.inside -= 1;
                    self.left.notify_all();
                }
                _ => {
                    state = self
                        .wake
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner)
                }
            }
        }
    }
}

/// A job published to the helpers; dropping it retracts the job and waits
/// for the helpers inside it to leave.
struct Published<'c> {
    pool: &'static Pool,
    chunks: &'c Chunks<'c>,
}

impl Drop for Published<'_> {
    fn drop(&mut self) {
        // Normally every chunk is claimed by now; after a panic in the
        // caller's work, this stops the helpers at their current chunk.
        self.chunks.cancel();
        let mut state = self.pool.lock();
        while state.inside > 0 {
            state = self
                .pool
                .left
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        // Under the same lock as the last check: no helper enters after it.
        state.job = None;
    }
}

#[cfg(test)]
mod tests {
    use super::super::Digest;
    use super::super::run::{CHUNK, PARALLEL, digest_beside, run_digest};

    /// The definition, on one thread.
    fn serial(bytes: &[u8]) -> Digest {
        let mut all: Vec<u8> = bytes
            .chunks(CHUNK)
            .flat_map(|chunk| xxhash_rust::xxh3::xxh3_128(chunk).to_le_bytes())
            .collect();
        all.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        xxhash_rust::xxh3::xxh3_128(&all)
    }

    fn bytes(len: usize, salt: usize) -> Vec<u8> {
        (0..len).map(|i| ((i * 31 + salt) % 251) as u8).collect()
    }

    #[test]
    fn callers_on_many_threads_get_the_definition() {
        // One job is published at a time: the others hash alone, and every
        // caller gets its own bytes' digest.
        let inputs: Vec<Vec<u8>> = (0..6)
            .map(|salt| bytes(PARALLEL + salt * CHUNK + salt, salt))
            .collect();
        std::thread::scope(|scope| {
            for input in &inputs {
                scope.spawn(move || {
                    for _ in 0..5 {
                        assert_eq!(run_digest(input), serial(input));
                    }
                });
            }
        });
    }

    #[test]
    fn the_work_runs_and_its_error_stops_the_hashing() {
        let input = bytes(PARALLEL + 3 * CHUNK, 1);
        let mut ran = false;
        let digest = digest_beside(&input, || {
            ran = true;
            Ok::<_, ()>(())
        });
        assert!(ran);
        assert_eq!(digest, Ok(serial(&input)));
        assert_eq!(digest_beside(&input, || Err("full")), Err("full"));
        // The pool is free again.
        assert_eq!(run_digest(&input), serial(&input));
    }

    #[test]
    fn a_panic_in_the_work_retracts_the_job() {
        let input = bytes(PARALLEL * 4, 2);
        let panicked = std::panic::catch_unwind(|| {
            let _ = digest_beside(&input, || -> Result<(), ()> { panic!("in the work") });
        });
        assert!(panicked.is_err());
        // Had the job stayed published, helpers would follow a dangling
        // pointer, or this caller would hash alone forever after.
        let other = bytes(PARALLEL * 2, 3);
        assert_eq!(run_digest(&other), serial(&other));
    }
}
