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
//! - **Compute once** holds per machine: the local directory's key locks.
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

use super::fs::{FdWriter, Outcome};
use super::object::{Put, Store};
use super::{EntryStore, FsStore, KeyGuard, StoredEntry};
use crate::entry::Entry;
use crate::hash::Digest;
use crate::layout::{MARKER, MARKER_TEXT};
use crate::sys::now_ms;

/// How long a shared store that failed is left alone.
pub(crate) const OFFLINE_FOR: Duration = Duration::from_secs(30);

/// A local cache directory in front of a shared store.
#[derive(Debug)]
pub(crate) struct Tier {
    local: FsStore,
    remote: Arc<dyn Store>,
    /// Paths whose stored entry was rejected: their next write replaces it.
    rejected: Mutex<HashSet<String>>,
    /// Until when (ms since the Unix epoch) the shared store is skipped.
    offline_until: AtomicU64,
    /// Whether the marker is known to be in the shared store.
    marked: AtomicBool,
}

impl Tier {
    pub(crate) fn new(local: FsStore, remote: Arc<dyn Store>) -> Tier {
        Tier {
            local,
            remote,
            rejected: Mutex::new(HashSet::new()),
            offline_until: AtomicU64::new(0),
            marked: AtomicBool::new(false),
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
        if self.offline() {
            return local;
        }
        let replace = self.take_rejected(path);
        let stored = if replace {
            self.remote.put(path, parts).map(|()| Put::Created)
        } else {
            self.remote.put_if_absent(path, parts)
        };
        match stored {
            Ok(Put::Created) => {
                self.mark();
                local
            }
            Ok(Put::Exists) => {
                // Another machine stored it first: its result is the one
                // everybody sees, here too from the next call on.
                let _ = self.local.remove(path);
                Ok(())
            }
            Err(e) => {
                self.failed(&e);
                if replace {
                    self.rejected(path);
                }
                local.and(Err(e))
            }
        }
    }

    fn clear(&self) -> io::Result<()> {
        let local = self.local.clear();
        let objects = self.remote.list("")?;
        let paths: Vec<String> = objects.into_iter().map(|o| o.path).collect();
        let failed = self.remote.delete_many(&paths);
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

    fn lock(&self, key: Digest) -> io::Result<KeyGuard> {
        self.local.lock(key)
    }

    fn rejected(&self, path: &str) {
        self.rejected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(path.to_owned());
    }

    fn remove(&self, path: &str) -> io::Result<()> {
        let local = self.local.remove(path);
        self.remote.delete(path)?;
        local
    }

    fn remove_function(&self, dir: &str) -> io::Result<()> {
        let local = self.local.remove_function(dir);
        let paths: Vec<String> = self.remote.list(dir)?.into_iter().map(|o| o.path).collect();
        if let Some(first) = self.remote.delete_many(&paths).first() {
            return Err(io::Error::other(format!(
                "cannot remove {}/{first}",
                self.remote.location()
            )));
        }
        local
    }

    fn root(&self) -> &Path {
        EntryStore::root(&self.local)
    }

    fn remote(&self) -> Option<&Arc<dyn Store>> {
        Some(&self.remote)
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
        Tier::new(FsStore::open_with(local, Access::Owner).unwrap(), remote)
    }

    fn entry(key: u128) -> (String, Vec<u8>) {
        let meta = crate::entry::EntryMeta {
            deps: Vec::new(),
            identity: "t::f".into(),
            fingerprint: "0".repeat(32),
            output_type: "u64".into(),
            call: "f()".into(),
            args: Vec::new(),
            type_args: Vec::new(),
            created_ms: 0,
            duration_s: 0.0,
        };
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
