//! A local tier in front of a shared [`Store`].
//!
//! - **Hits** are served from the local directory when the entry is there:
//!   exactly the local store's hit (one `openat2`, one `read`), and arrays
//!   are memory-mapped from the local file.
//! - **Misses** there are fetched from the shared store, streamed into a new
//!   local file (linked into place once complete, so no reader sees part of
//!   it), and read from it. A fetched entry is verified (header, lengths,
//!   checksum, key) as every read entry is; a damaged one is reported and
//!   recomputed by the call path, and its replacement overwrites it in the
//!   shared store.
//! - **New results** go to the local directory, then to the shared store
//!   with `put_if_absent`: if another machine stored the entry first, its
//!   copy is the one everybody sees, and the local copy is dropped (the
//!   next call fetches the winner). An entry the call path rejected
//!   (damaged, expired, of another type, recomputed on request) is replaced
//!   with `put`.
//! - **Large arrays** (1 MiB and more) are stored once per content digest,
//!   in the local directory's blob area and in the shared store's
//!   (`shared_blobs.rs`): before an entry goes to the shared store, each
//!   blob it refers to is confirmed there (marked, and uploaded unless
//!   present); a blob missing locally is fetched when an array needs it,
//!   checked against its digest. A blob missing in both makes the read a
//!   miss, and the recomputation stores it again.
//! - **Compute once** holds per machine with the local directory's key
//!   locks, and between machines with a lease per key in the shared store
//!   (`lease.rs`), when the store has conditional writes by version.
//! - **Read-only** ([`Sharing::read_only`]): the shared store is read and
//!   never written — no entries, leases, marker, usage records or removals;
//!   what is computed stays in the local directory.
//! - **A failing shared store** (network, permissions) is reported once by
//!   the `Memory`, then left alone for [`OFFLINE_FOR`]: meanwhile calls are
//!   served from, and stored in, the local tier only.

use std::collections::HashSet;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::create::Outcome;
use super::fs::FdWriter;
use super::lease::{self, Acquired, LeaseOptions};
use super::object::{Put, Store};
use super::shared_blobs::{self, Fetched};
use super::{EntryStore, FsStore, KeyGuard, StoredEntry};
use crate::array::{BlobReader, BlobRef, BlobWriter};
use crate::entry::Entry;
use crate::hash::Digest;
use crate::layout::{MARKER, MARKER_TEXT};
use crate::sys::now_ms;

/// How long a shared store that failed is left alone.
pub(crate) const OFFLINE_FOR: Duration = Duration::from_secs(30);

/// How a tier uses its shared store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Sharing {
    /// Read the shared store, never write to it.
    pub(crate) read_only: bool,
    /// Compute-once leases between machines.
    pub(crate) lease: LeaseOptions,
}

/// A local cache directory in front of a shared store.
#[derive(Debug)]
pub(crate) struct Tier {
    local: FsStore,
    remote: Arc<dyn Store>,
    sharing: Sharing,
    /// Paths whose stored entry was rejected: their next write replaces it.
    rejected: Mutex<HashSet<String>>,
    /// Blobs whose copy in the shared store was found damaged: their next
    /// upload replaces it.
    bad_blobs: Mutex<HashSet<Digest>>,
    /// Until when (ms since the Unix epoch) the shared store is skipped.
    offline_until: AtomicU64,
    /// Whether the marker is known to be in the shared store.
    marked: AtomicBool,
    /// Whether giving up on another machine's lease was said already.
    gave_up_reported: AtomicBool,
}

impl Tier {
    pub(crate) fn new(local: FsStore, remote: Arc<dyn Store>, sharing: Sharing) -> Tier {
        Tier {
            local,
            remote,
            sharing,
            rejected: Mutex::new(HashSet::new()),
            bad_blobs: Mutex::new(HashSet::new()),
            offline_until: AtomicU64::new(0),
            marked: AtomicBool::new(false),
            gave_up_reported: AtomicBool::new(false),
        }
    }

    /// Takes the lease of `key` in the shared store, if leases are on and
    /// the store can hold them; `None` to compute without one.
    /// The key's lease, waiting for another machine's live one at most the
    /// lease wait, else the call's own wait limit (`limit`).
    fn lease(&self, key: Digest, limit: Option<Duration>) -> Option<lease::HeldLease> {
        if self.sharing.read_only
            || self.sharing.lease.time.is_zero()
            || self.offline()
            || self.remote.versioned().is_none()
        {
            return None;
        }
        let options = LeaseOptions {
            wait: self.sharing.lease.wait.or(limit),
            ..self.sharing.lease
        };
        match lease::acquire(&self.remote, key, options) {
            Ok(Acquired::Held(held)) => Some(held),
            Ok(Acquired::GaveUp { holder }) => {
                if !self.gave_up_reported.swap(true, Ordering::Relaxed) {
                    crate::trace::warn(format_args!(
                        "{}: waited {:?} (the lease wait limit) for {holder} to compute a result; \
                         computing it here as well (said once)",
                        self.remote.location(),
                        options.wait.unwrap_or_default(),
                    ));
                }
                None
            }
            Err(e) => {
                self.failed(&e);
                None
            }
        }
    }

    /// The local key lock `local`, with the key's lease when one is taken:
    /// dropping the guard releases the lease, then the lock.
    fn with_lease(&self, key: Digest, local: KeyGuard, limit: Option<Duration>) -> KeyGuard {
        match self.lease(key, limit) {
            Some(held) => KeyGuard(Box::new((held, local))),
            None => local,
        }
    }

    fn offline(&self) -> bool {
        let until = self.offline_until.load(Ordering::Relaxed);
        until != 0 && now_ms() < until
    }

    /// The shared store failed: leave it alone for a while.
    fn failed(&self, error: &io::Error) {
        let until = now_ms() + OFFLINE_FOR.as_millis() as u64;
        self.offline_until.store(until, Ordering::Relaxed);
        tracing::debug!(target: "memory", store = self.remote.location(), %error,
            "the shared store failed; using the local tier alone for {OFFLINE_FOR:?}");
    }

    fn take_rejected(&self, path: &str) -> bool {
        self.rejected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(path)
    }

    /// Writes the marker once per process, after the first entry stored.
    fn mark(&self) {
        if !self.marked.swap(true, Ordering::Relaxed)
            && let Err(e) = self.remote.put_if_absent(MARKER, &[MARKER_TEXT])
        {
            tracing::debug!(target: "memory", %e, "cannot mark the shared store as a memo cache");
        }
    }

    /// Confirms in the shared store each blob the entry `parts` refers to
    /// (`shared_blobs.rs`), before the entry is written there; returns
    /// them, to check again once the entry is written.
    fn confirm_blobs(&self, parts: &[&[u8]]) -> io::Result<Vec<BlobRef>> {
        let Some(head) = parts.first() else {
            return Ok(Vec::new());
        };
        let len = parts.iter().map(|part| part.len() as u64).sum();
        let refs = shared_blobs::refs_of(head, len);
        let started = std::time::Instant::now();
        for &blob in &refs {
            let replace = self.bad_blobs().remove(&blob.digest);
            match shared_blobs::confirm(&*self.remote, &self.local, blob, replace) {
                Ok(_) => {}
                Err(e) => {
                    if replace {
                        self.bad_blobs().insert(blob.digest);
                    }
                    return Err(e);
                }
            }
        }
        if started.elapsed() > shared_blobs::REMARK_AFTER {
            // Long uploads: the first blobs' marks are old by now; the
            // grace-period rule counts from the last mark before the entry.
            shared_blobs::mark_all(&*self.remote, &refs)?;
        }
        Ok(refs)
    }

    fn bad_blobs(&self) -> std::sync::MutexGuard<'_, HashSet<Digest>> {
        self.bad_blobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Fetches `path` from the shared store into the local directory.
    fn fetch(&self, path: &str) -> io::Result<Option<StoredEntry>> {
        let mut remote_error = None;
        let mut fill = |file: &OwnedFd| match self.remote.get_to(path, &mut FdWriter(file)) {
            Ok(found) => Ok(found),
            Err(e) => {
                let error = io::Error::new(e.kind(), e.to_string());
                remote_error = Some(e);
                Err(error)
            }
        };
        let created = self.local.create(path, &mut fill);
        if let Some(e) = &remote_error {
            self.failed(e);
        }
        match created? {
            Outcome::Nothing => return Ok(None),
            Outcome::Created | Outcome::Exists => {}
        }
        let found = self.local.read(path)?;
        if let Some(stored) = &found
            && Entry::parse_head(&stored.bytes, stored.len, key_of(path)).is_err()
        {
            // The call path reports it and recomputes; the replacement
            // must overwrite the damaged copy in the shared store too.
            self.rejected(path);
        }
        Ok(found)
    }
}

impl EntryStore for Tier {
    fn read(&self, path: &str) -> io::Result<Option<StoredEntry>> {
        if let Some(found) = self.local.read(path)? {
            return Ok(Some(found));
        }
        if self.offline() {
            return Ok(None);
        }
        self.fetch(path)
    }

    fn write(&self, path: &str, parts: &[&[u8]]) -> io::Result<()> {
        let local = self.local.write(path, parts);
        if self.sharing.read_only || self.offline() {
            return local;
        }
        let replace = self.take_rejected(path);
        // Every blob the entry refers to is in the shared store before the
        // entry is: no machine sees an entry whose blobs were never there.
        let stored = self.confirm_blobs(parts).and_then(|confirmed| {
            let put = if replace {
                self.remote.put(path, parts).map(|()| Put::Created)
            } else {
                self.remote.put_if_absent(path, parts)
            }?;
            if put == Put::Created {
                shared_blobs::recheck(&*self.remote, &self.local, &confirmed)?;
            }
            Ok(put)
        });
        match stored {
            Ok(Put::Created) => {
                self.mark();
                local
            }
            Ok(Put::Exists) => {
                // Another machine stored it first: its result is the one
                // everybody sees, here too from the next call on. No sweep
                // here: this writer still holds the local blob area's lock
                // shared; the next sweep takes our unused blobs.
                let _ = self.local.unlink(path);
                Ok(())
            }
            Err(e) => {
                // A blob the local tier could not keep (a full disk) is
                // not the shared store failing: it stays in use.
                if e.kind() != io::ErrorKind::NotFound {
                    self.failed(&e);
                }
                if replace {
                    self.rejected(path);
                }
                local.and(Err(e))
            }
        }
    }

    fn clear(&self) -> io::Result<()> {
        let local = self.local.clear();
        if self.sharing.read_only {
            return local;
        }
        // Only objects with memo's names in memo's places (`owned.rs`);
        // anything else under the prefix stays. Leases go only once
        // provably over: a live one is a computation running elsewhere.
        // Blobs go by a sweep, which spares those a writer elsewhere may be
        // about to refer to (`shared_blobs.rs`).
        let failed = super::owned::remove_store_objects(&*self.remote)?;
        super::owned::remove_stale_leases(&*self.remote)?;
        shared_blobs::sweep(&*self.remote, shared_blobs::grace())?;
        self.marked.store(false, Ordering::Relaxed);
        if let Some(first) = failed.first() {
            return Err(io::Error::other(format!(
                "cannot remove {}/{first} (and {} more)",
                self.remote.location(),
                failed.len() - 1
            )));
        }
        local
    }

    /// This machine's key lock first (one process per machine goes on),
    /// then the key's lease in the shared store. Dropping the guard
    /// releases the lease, then the lock.
    fn lock(&self, key: Digest) -> io::Result<KeyGuard> {
        let local = self.local.lock(key)?;
        Ok(self.with_lease(key, local, None))
    }

    /// As [`lock`](Self::lock), the local lock waited for at most `limit`;
    /// the lease, at most the lease wait if one is set, else `limit`.
    fn lock_within(&self, key: Digest, limit: Option<Duration>) -> io::Result<Option<KeyGuard>> {
        let Some(local) = self.local.lock_within(key, limit)? else {
            return Ok(None);
        };
        Ok(Some(self.with_lease(key, local, limit)))
    }

    fn nearby(&self, dir: &str, version: &str) -> super::nearby::Nearby {
        // The local tier only: looking around a shared store costs requests.
        self.local.nearby(dir, version)
    }

    fn rejected(&self, path: &str) {
        self.rejected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(path.to_owned());
    }

    fn remove(&self, path: &str) -> io::Result<()> {
        let local = self.local.remove(path);
        if self.sharing.read_only {
            return local;
        }
        self.remote.delete(path)?;
        shared_blobs::sweep(&*self.remote, shared_blobs::grace())?;
        local
    }

    fn remove_function(&self, dir: &str) -> io::Result<()> {
        let local = self.local.remove_function(dir);
        if self.sharing.read_only {
            return local;
        }
        // Only memo's own objects, in memo's own places.
        let paths: Vec<String> = self
            .remote
            .list(dir)?
            .into_iter()
            .map(|o| o.path)
            .filter(|path| crate::layout::is_function_object(dir, path))
            .collect();
        if let Some(first) = self.remote.delete_many(&paths).first() {
            return Err(io::Error::other(format!(
                "cannot remove {}/{first}",
                self.remote.location()
            )));
        }
        shared_blobs::sweep(&*self.remote, shared_blobs::grace())?;
        local
    }

    fn root(&self) -> &Path {
        EntryStore::root(&self.local)
    }

    fn remote(&self) -> Option<&Arc<dyn Store>> {
        (!self.sharing.read_only).then_some(&self.remote)
    }

    /// The local directory's blob area: blobs stored once per digest there,
    /// and confirmed in the shared store when the entry is written.
    fn blob_writer(&self) -> Option<Box<dyn BlobWriter + '_>> {
        Some(Box::new(self.local.blob_writer()))
    }

    fn blob_reader(&self) -> Option<&dyn BlobReader> {
        Some(self)
    }
}

/// Blobs are read from the local blob area, fetched into it from the
/// shared store when missing.
impl BlobReader for Tier {
    fn open(&self, digest: Digest) -> io::Result<Option<(std::fs::File, u64)>> {
        if let Some(found) = BlobReader::open(&self.local, digest)? {
            return Ok(Some(found));
        }
        if self.offline() {
            return Ok(None);
        }
        match shared_blobs::fetch(&*self.remote, &self.local, digest) {
            Ok(Fetched::Stored) => BlobReader::open(&self.local, digest),
            Ok(Fetched::Missing) => Ok(None),
            Ok(Fetched::Damaged) => {
                // The recomputation uploads it again, replacing this copy.
                self.bad_blobs().insert(digest);
                Ok(None)
            }
            Err(e) => {
                self.failed(&e);
                Ok(None)
            }
        }
    }

    fn corrupt(&self, digest: Digest) {
        self.local.corrupt(digest);
        self.bad_blobs().insert(digest);
    }
}

/// The key an entry path names (`.../<32 hex digits>.memo`).
fn key_of(path: &str) -> Option<u128> {
    let name = path.rsplit('/').next()?.strip_suffix(".memo")?;
    (name.len() == 32)
        .then(|| u128::from_str_radix(name, 16).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Access;

    fn tier(shared: &Path, local: &Path) -> Tier {
        let remote = Arc::new(FsStore::open(shared).unwrap());
        Tier::new(
            FsStore::open_with(local, Access::Owner).unwrap(),
            remote,
            Sharing::default(),
        )
    }

    fn entry(key: u128) -> (String, Vec<u8>) {
        let meta = crate::entry::EntryMeta::sample();
        let bytes = crate::entry::encode(key, 1, &meta, &42u64).unwrap();
        (format!("t.f/0000000000000000/{key:032x}.memo"), bytes)
    }

    #[test]
    fn a_new_local_tier_fetches_from_the_shared_store() {
        let dir = tempfile::tempdir().unwrap();
        let (path, bytes) = entry(7);
        let first = tier(&dir.path().join("shared"), &dir.path().join("a"));
        first.write(&path, &[&bytes]).unwrap();
        let second = tier(&dir.path().join("shared"), &dir.path().join("b"));
        let found = second.read(&path).unwrap().expect("fetched");
        assert_eq!(found.bytes, bytes);
        assert!(dir.path().join("b").join(&path).is_file(), "kept locally");
        assert!(dir.path().join("shared").join(MARKER).is_file());
    }

    #[test]
    fn the_first_stored_result_wins_and_rejected_ones_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        let (path, bytes) = entry(9);
        let first = tier(&shared, &dir.path().join("a"));
        let second = tier(&shared, &dir.path().join("b"));
        first.write(&path, &[&bytes]).unwrap();
        let mut other = bytes.clone();
        let middle = other.len() / 2;
        other[middle] ^= 1;
        second.write(&path, &[&other]).unwrap();
        assert_eq!(std::fs::read(shared.join(&path)).unwrap(), bytes);
        assert!(
            !dir.path().join("b").join(&path).exists(),
            "the loser's copy goes"
        );
        second.rejected(&path);
        second.write(&path, &[&other]).unwrap();
        assert_eq!(std::fs::read(shared.join(&path)).unwrap(), other);
    }

    #[test]
    fn a_damaged_shared_entry_is_marked_for_replacement() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        let (path, mut bytes) = entry(11);
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        FsStore::open(&shared)
            .unwrap()
            .put(&path, &[&bytes])
            .unwrap();
        let reader = tier(&shared, &dir.path().join("a"));
        assert!(reader.read(&path).unwrap().is_some());
        assert!(reader.take_rejected(&path));
    }

    #[test]
    fn a_read_only_tier_reads_the_shared_store_and_never_writes_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        let (path, bytes) = entry(13);
        tier(&shared, &dir.path().join("team"))
            .write(&path, &[&bytes])
            .unwrap();
        let listing = |store: &FsStore| {
            let mut objects = store.list("").unwrap();
            objects.sort_by(|a, b| a.path.cmp(&b.path));
            objects
        };
        let store = FsStore::open(&shared).unwrap();
        let before = listing(&store);
        let sharing = Sharing {
            read_only: true,
            ..Sharing::default()
        };
        let local = dir.path().join("ci");
        let ci = Tier::new(
            FsStore::open_with(&local, Access::Owner).unwrap(),
            Arc::new(FsStore::open(&shared).unwrap()),
            sharing,
        );
        assert_eq!(ci.read(&path).unwrap().expect("fetched").bytes, bytes);
        let (mine, mine_bytes) = entry(14);
        ci.write(&mine, &[&mine_bytes]).unwrap();
        assert!(local.join(&mine).is_file(), "kept locally");
        ci.rejected(&path);
        ci.write(&path, &[&mine_bytes]).unwrap();
        ci.remove(&path).unwrap();
        ci.remove_function("t.f").unwrap();
        ci.clear().unwrap();
        drop(ci.lock(13).unwrap());
        assert!(
            ci.remote().is_none(),
            "nothing administers the shared store through it"
        );
        assert_eq!(listing(&store), before, "the shared store is untouched");
    }

    #[test]
    fn a_missing_entry_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let reader = tier(&dir.path().join("shared"), &dir.path().join("a"));
        assert!(
            reader
                .read("t.f/0000000000000000/00.memo")
                .unwrap()
                .is_none()
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("a/t.f/0000000000000000"))
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
