//! Compute-once across machines: a lease object per key in a shared store.
//!
//! A machine about to compute a key (holding its local key lock, so one
//! process per machine gets here) creates `.leases/<key>.lease` with a
//! conditional write (`If-None-Match: *`). The lease names its holder and
//! its lease time; while the computation runs, a thread renews it every
//! third of that time with a conditional replace (`If-Match` on the
//! version it wrote last), each renewal with new content so its version
//! changes. After the result is stored, the lease is deleted.
//!
//! Another machine that finds the lease waits, reading it with growing
//! pauses, until it is gone (then it takes a lease of its own, and the
//! call path reads the stored result), until its wait limit (then it
//! computes too), or until the lease expires: a lease expires when
//!
//! - its version has not changed for its lease time, measured on the
//!   waiter's own monotonic clock from when it first saw that version — no
//!   wall clocks compared across machines, only their rates; or
//! - its `Last-Modified` (the server's clock) is older than its lease time
//!   plus [`CLOCK_ALLOWANCE`] by the waiter's wall clock: so a lease left
//!   by a crash long ago is taken at once, assuming the waiter's clock is
//!   not ahead of the server's by more than the allowance.
//!
//! An expired lease is taken over by a conditional replace naming the
//! version the waiter judged: of several takers exactly one wins.
//!
//! What this cannot promise — a holder that is alive but cut off from the
//! store, or slower to renew than its lease time, loses its lease to a
//! taker while it still computes — costs a second computation, never a
//! wrong result: both store the same key's result, the first stored wins
//! (`put_if_absent`), and each copy is a whole, valid entry for the key.
//! `docs/backends.md` states the guarantees for users.

use std::io;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use super::object::Store;
use super::versioned::ObjectVersion;
use crate::hash::Digest;
use crate::layout;
use crate::sys;

/// How long a lease lives without renewal, unless
/// [`Memory::lease_time`](crate::Memory::lease_time) says otherwise.
pub(crate) const DEFAULT_LEASE_TIME: Duration = Duration::from_secs(30);

/// The shortest lease time: renewals every third of it must reach the
/// store in time.
pub(crate) const MIN_LEASE_TIME: Duration = Duration::from_secs(1);

/// How far a waiter's wall clock may run ahead of the store's before it
/// takes a live lease early (judging by `Last-Modified`).
pub(crate) const CLOCK_ALLOWANCE: Duration = Duration::from_secs(60);

/// The first pause between two reads of someone else's lease; each next
/// one is half again as long, up to [`LONGEST_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(50);
const LONGEST_POLL: Duration = Duration::from_secs(1);

/// The first line of every lease: what proves an object is memo's lease.
const MAGIC: &str = "memo lease 1";

/// How a tier uses leases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LeaseOptions {
    /// How long a lease lives without renewal; zero: no leases.
    pub(crate) time: Duration,
    /// How long to wait for another machine's live lease before computing
    /// anyway; `None`: as long as the lease lives.
    pub(crate) wait: Option<Duration>,
}

impl Default for LeaseOptions {
    fn default() -> LeaseOptions {
        LeaseOptions {
            time: DEFAULT_LEASE_TIME,
            wait: None,
        }
    }
}

/// What a lease object says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Terms {
    /// Who holds it: `<host>-<pid>-<random>`.
    pub(crate) holder: String,
    /// How long it lives without renewal.
    pub(crate) time: Duration,
    /// How many times it was renewed: every write's content differs, so
    /// every write makes a new version (S3's ETag is the content's MD5).
    renewal: u64,
}

impl Terms {
    fn encode(&self) -> Vec<u8> {
        format!(
            "{MAGIC}\nholder {}\ntime_ms {}\nrenewal {}\n",
            self.holder,
            self.time.as_millis(),
            self.renewal
        )
        .into_bytes()
    }

    /// The terms of a lease; `None` for anything that is not one of memo's
    /// leases (of this format).
    pub(crate) fn parse(bytes: &[u8]) -> Option<Terms> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut lines = text.lines();
        if lines.next()? != MAGIC {
            return None;
        }
        let mut field = |name: &str| lines.next()?.strip_prefix(name)?.strip_prefix(' ');
        let holder = field("holder")?.to_owned();
        let time_ms: u64 = field("time_ms")?.parse().ok()?;
        let renewal = field("renewal")?.parse().ok()?;
        let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_');
        (!holder.is_empty() && holder.len() <= 128 && holder.bytes().all(plain)).then_some(Terms {
            holder,
            time: Duration::from_millis(time_ms),
            renewal,
        })
    }
}

/// A lease whose `Last-Modified` (the server's clock) is `modified` and
/// whose lease time is `time` is over by the wall clock `now`, allowing
/// for [`CLOCK_ALLOWANCE`] of difference between the clocks.
pub(crate) fn over_by_wall_clock(modified: SystemTime, time: Duration, now: SystemTime) -> bool {
    modified
        .checked_add(time + CLOCK_ALLOWANCE)
        .is_some_and(|end| end < now)
}

/// The outcome of [`acquire`].
pub(crate) enum Acquired {
    /// This process holds the lease: compute, store, then drop it.
    Held(HeldLease),
    /// Another machine held a live lease for longer than the wait limit.
    GaveUp {
        /// Who holds it.
        holder: String,
    },
}

/// A version of someone else's lease, and since when this waiter sees it.
struct Seen {
    tag: String,
    since: Instant,
}

/// Takes the lease of `key` in `store`: creates it, or waits while another
/// machine holds it live (then creates it, or takes it over once expired).
/// `Err` when the store fails or cannot do conditional writes.
pub(crate) fn acquire(
    store: &Arc<dyn Store>,
    key: Digest,
    options: LeaseOptions,
) -> io::Result<Acquired> {
    let versioned = store.versioned().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "the store has no conditional writes",
        )
    })?;
    let path = layout::lease_path(key);
    let mut terms = Terms {
        holder: format!(
            "{}-{}-{:016x}",
            sys::host_name(),
            std::process::id(),
            sys::random_u64()
        ),
        time: options.time.max(MIN_LEASE_TIME),
        renewal: 0,
    };
    let started = Instant::now();
    let mut pause = FIRST_POLL;
    let mut seen: Option<Seen> = None;
    loop {
        if let Some(version) = versioned.create(&path, &terms.encode())? {
            return Ok(Acquired::Held(HeldLease::start(
                store, path, terms, version,
            )));
        }
        let Some((bytes, version)) = versioned.get_versioned(&path)? else {
            // Released meanwhile: the result is probably stored; take a
            // lease (in case it is not) and let the call path look.
            continue;
        };
        let theirs = Terms::parse(&bytes);
        let time = theirs.as_ref().map_or(DEFAULT_LEASE_TIME, |t| t.time);
        let now = Instant::now();
        let since = match &seen {
            Some(seen) if seen.tag == version.tag => seen.since,
            _ => now,
        };
        seen = Some(Seen {
            tag: version.tag.clone(),
            since,
        });
        let expired = now.duration_since(since) >= time
            || over_by_wall_clock(version.modified, time, SystemTime::now());
        if expired {
            // Of several takers naming this version, one wins; the others
            // find the winner's lease live on their next read.
            terms.renewal = theirs.as_ref().map_or(0, |t| t.renewal + 1);
            if let Some(taken) = versioned.replace(&path, &terms.encode(), &version)? {
                tracing::debug!(target: "memory", path, "took over an expired lease");
                return Ok(Acquired::Held(HeldLease::start(store, path, terms, taken)));
            }
            continue;
        }
        let waited = now.duration_since(started);
        if let Some(limit) = options.wait
            && waited >= limit
        {
            return Ok(Acquired::GaveUp {
                holder: theirs.map_or_else(|| "an unknown holder".to_owned(), |t| t.holder),
            });
        }
        let until_expiry = time.saturating_sub(now.duration_since(since));
        let until_limit = options
            .wait
            .map_or(Duration::MAX, |l| l.saturating_sub(waited));
        std::thread::sleep(pause.min(until_expiry).min(until_limit).max(FIRST_POLL));
        pause = (pause * 3 / 2).min(LONGEST_POLL);
    }
}

/// What the holder and its renewal thread share.
struct Holding {
    /// The version last written; `None` once the lease is lost (taken
    /// over or removed).
    version: Option<ObjectVersion>,
    /// When that version was written (this process's clock).
    written: Instant,
}

/// A lease this process holds: renewed in the background until dropped;
/// dropping it deletes it (unless it was lost meanwhile).
pub(crate) struct HeldLease {
    store: Arc<dyn Store>,
    path: String,
    time: Duration,
    holding: Arc<Mutex<Holding>>,
    /// Dropped to stop the renewal thread.
    stop: Option<mpsc::Sender<()>>,
    renewer: Option<JoinHandle<()>>,
}

impl HeldLease {
    fn start(store: &Arc<dyn Store>, path: String, terms: Terms, version: ObjectVersion) -> Self {
        let holding = Arc::new(Mutex::new(Holding {
            version: Some(version),
            written: Instant::now(),
        }));
        let time = terms.time;
        let (stop, stopped) = mpsc::channel();
        let renewer = {
            let store = Arc::clone(store);
            let path = path.clone();
            let holding = Arc::clone(&holding);
            std::thread::Builder::new()
                .name("memo-lease".into())
                .spawn(move || renew(&*store, &path, terms, &holding, &stopped))
                .map_err(|e| {
                    tracing::debug!(target: "memory", %e, "cannot start renewing a lease");
                })
                .ok()
        };
        HeldLease {
            store: Arc::clone(store),
            path,
            time,
            holding,
            stop: Some(stop),
            renewer,
        }
    }

    /// Whether this process still holds the lease, as far as it knows.
    #[cfg(test)]
    fn held(&self) -> bool {
        lock(&self.holding).version.is_some()
    }
}

fn lock(holding: &Mutex<Holding>) -> std::sync::MutexGuard<'_, Holding> {
    holding.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The renewal thread: every third of the lease time, a conditional
/// replace of the version written last, until stopped or the lease is lost.
fn renew(
    store: &dyn Store,
    path: &str,
    mut terms: Terms,
    holding: &Mutex<Holding>,
    stopped: &mpsc::Receiver<()>,
) {
    let Some(versioned) = store.versioned() else {
        return;
    };
    loop {
        match stopped.recv_timeout(terms.time / 3) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        let Some(version) = lock(holding).version.clone() else {
            return;
        };
        terms.renewal += 1;
        match versioned.replace(path, &terms.encode(), &version) {
            Ok(Some(renewed)) => {
                let mut holding = lock(holding);
                holding.version = Some(renewed);
                holding.written = Instant::now();
            }
            Ok(None) => {
                tracing::debug!(target: "memory", path, "lost a lease (taken over or removed); computing on");
                lock(holding).version = None;
                return;
            }
            // Tried again at the next third: the lease expires only if
            // renewals keep failing for its whole time.
            Err(e) => tracing::debug!(target: "memory", path, %e, "cannot renew a lease"),
        }
    }
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(renewer) = self.renewer.take() {
            let _ = renewer.join();
        }
        let (version, written) = {
            let holding = lock(&self.holding);
            (holding.version.clone(), holding.written)
        };
        let Some(version) = version else { return };
        // Nobody takes a lease over within its time of its last write:
        // while well inside that, it is surely still ours. Later (renewals
        // failed), look first; a taker may still slip in between the look
        // and the delete, and then computes a second time (no wrong result).
        let ours = written.elapsed() < self.time / 2
            || self.store.versioned().is_some_and(|versioned| {
                matches!(versioned.get_versioned(&self.path), Ok(Some((_, now))) if now.tag == version.tag)
            });
        if ours && let Err(e) = self.store.delete(&self.path) {
            tracing::debug!(target: "memory", path = self.path, %e, "cannot release a lease; it expires on its own");
        }
    }
}

#[cfg(test)]
mod tests;
