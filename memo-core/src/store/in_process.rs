//! The in-process tier ([`Memory::in_process`](crate::Memory::in_process)):
//! entries this process read recently, kept in memory within a byte budget,
//! in front of the store the `Memory` opened.
//!
//! It keeps entry *files*, keyed by their path in the cache — function
//! directory, code version, call key: exactly the on-disk key, so it can
//! serve nothing the store would not. A hit skips the file system only:
//! the call path still checks the entry (checksum, key, expiry, validation)
//! and decodes the output as the caller's type, as for a read from disk.
//! So no `Clone` bound is needed and every output type takes part; what a
//! hit costs beyond a lookup grows with the size of the output.
//!
//! Arrays are never copied into it: an entry file holding out-of-line
//! arrays is not kept (it is mapped or read from its file every time), and
//! arrays stored by content are read or mapped from the store's blob area
//! on every hit, as on a hit from disk.
//!
//! Eviction is two generations, an approximate LRU in O(1): entries go
//! into the young generation; when it would pass half the budget it
//! becomes the old one (the previous old one is dropped); a hit in the old
//! generation moves the entry back to the young one. Both together never
//! hold more than the budget.
//!
//! What it does not see: entries removed by *another* process (its
//! `clear`, `reduce_size`, `memo gc`) or by the automatic limits in the
//! background are still served here until evicted, as by any in-process
//! cache. This process's own writes, rejections and
//! removals through the `Memory` (`clear`, `reduce_size`, `gc_stale`, a
//! handle's `clear`) drop the copies they concern.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use xxhash_rust::xxh3::xxh3_64;

use super::{EntryStore, KeyGuard, Store, StoredEntry};
use crate::entry::Entry;
use crate::hash::Digest;
use crate::sys::KeyMap;

/// Bytes counted per kept entry beyond its file and path: the map slot and
/// allocation headers, roughly.
const SLOT_OVERHEAD: u64 = 96;

/// A store with the in-process tier in front.
pub(crate) struct InProcess {
    inner: Box<dyn EntryStore>,
    /// Bytes the two generations may hold together.
    budget: u64,
    state: Mutex<Generations>,
}

/// One kept entry file.
struct Slot {
    path: Box<str>,
    bytes: Arc<[u8]>,
}

impl Slot {
    fn cost(&self) -> u64 {
        self.bytes.len() as u64 + self.path.len() as u64 + SLOT_OVERHEAD
    }
}

/// Entries by the xxh3-64 of their path (the path itself is compared on
/// every lookup).
#[derive(Default)]
struct Generation {
    slots: KeyMap<u64, Slot>,
    bytes: u64,
}

impl Generation {
    fn take(&mut self, hash: u64, path: &str) -> Option<Slot> {
        if self.slots.get(&hash)?.path.as_ref() != path {
            return None;
        }
        let slot = self.slots.remove(&hash)?;
        self.bytes -= slot.cost();
        Some(slot)
    }

    fn insert(&mut self, hash: u64, slot: Slot) {
        self.bytes += slot.cost();
        if let Some(old) = self.slots.insert(hash, slot) {
            self.bytes -= old.cost();
        }
    }
}

#[derive(Default)]
struct Generations {
    young: Generation,
    old: Generation,
}

impl Generations {
    /// Adds `slot` to the young generation, which becomes the old one
    /// first if `slot` would take it past `half`.
    fn insert(&mut self, hash: u64, slot: Slot, half: u64) {
        self.old.take(hash, &slot.path);
        self.young.take(hash, &slot.path);
        if self.young.bytes + slot.cost() > half {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(hash, slot);
    }

    fn remove(&mut self, hash: u64, path: &str) {
        self.young.take(hash, path);
        self.old.take(hash, path);
    }

    fn clear(&mut self) {
        *self = Generations::default();
    }
}

impl InProcess {
    /// `inner` with a tier of `budget` bytes in front.
    pub(crate) fn new(inner: Box<dyn EntryStore>, budget: u64) -> InProcess {
        InProcess {
            inner,
            budget,
            state: Mutex::new(Generations::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, Generations> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The kept file of `path`, moved to the young generation if it was in
    /// the old one.
    fn get(&self, hash: u64, path: &str) -> Option<Arc<[u8]>> {
        let mut state = self.state();
        if let Some(slot) = state.young.slots.get(&hash)
            && slot.path.as_ref() == path
        {
            return Some(Arc::clone(&slot.bytes));
        }
        let slot = state.old.take(hash, path)?;
        let bytes = Arc::clone(&slot.bytes);
        state.insert(hash, slot, self.budget / 2);
        Some(bytes)
    }

    /// Keeps `entry` if it is whole, sound and without out-of-line arrays,
    /// and fits the budget.
    fn keep(&self, hash: u64, path: &str, entry: &StoredEntry) {
        if entry.len != entry.bytes.len() as u64 {
            return;
        }
        let sound = Entry::parse_head(&entry.bytes, entry.len, None);
        if !sound.is_ok_and(|parsed| !parsed.has_blobs()) {
            return;
        }
        let slot = Slot {
            path: path.into(),
            bytes: entry.bytes.as_slice().into(),
        };
        if slot.cost() <= self.budget / 2 {
            self.state().insert(hash, slot, self.budget / 2);
        }
    }

    fn forget(&self, path: &str) {
        self.state().remove(xxh3_64(path.as_bytes()), path);
    }
}

impl fmt::Debug for InProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcess")
            .field("budget", &self.budget)
            .field("inner", &self.inner)
            .finish()
    }
}

impl EntryStore for InProcess {
    fn read(&self, path: &str) -> io::Result<Option<StoredEntry>> {
        let hash = xxh3_64(path.as_bytes());
        if let Some(bytes) = self.get(hash, path) {
            return Ok(Some(StoredEntry {
                len: bytes.len() as u64,
                bytes: bytes.to_vec(),
                file: None,
            }));
        }
        let read = self.inner.read(path)?;
        if let Some(entry) = &read {
            self.keep(hash, path, entry);
        }
        Ok(read)
    }

    fn write(&self, path: &str, parts: &[&[u8]]) -> io::Result<()> {
        // The entry at `path` is being replaced: the copy goes either way.
        self.forget(path);
        self.inner.write(path, parts)
    }

    fn clear(&self) -> io::Result<()> {
        self.forget_all();
        self.inner.clear()
    }

    fn lock(&self, key: Digest) -> io::Result<KeyGuard> {
        self.inner.lock(key)
    }

    fn lock_within(
        &self,
        key: Digest,
        limit: Option<std::time::Duration>,
    ) -> io::Result<Option<KeyGuard>> {
        self.inner.lock_within(key, limit)
    }

    fn nearby(&self, dir: &str, version: &str) -> super::nearby::Nearby {
        self.inner.nearby(dir, version)
    }

    fn blob_writer(&self) -> Option<Box<dyn crate::array::BlobWriter + '_>> {
        self.inner.blob_writer()
    }

    fn blob_reader(&self) -> Option<&dyn crate::array::BlobReader> {
        self.inner.blob_reader()
    }

    fn rejected(&self, path: &str) {
        self.forget(path);
        self.inner.rejected(path);
    }

    fn remove(&self, path: &str) -> io::Result<()> {
        self.forget(path);
        self.inner.remove(path)
    }

    fn remove_function(&self, dir: &str) -> io::Result<()> {
        let prefix = format!("{dir}/");
        {
            let mut state = self.state();
            let Generations { young, old } = &mut *state;
            for generation in [young, old] {
                let gone = generation
                    .slots
                    .values()
                    .filter(|slot| slot.path.starts_with(&prefix))
                    .map(Slot::cost)
                    .sum::<u64>();
                generation
                    .slots
                    .retain(|_, slot| !slot.path.starts_with(&prefix));
                generation.bytes -= gone;
            }
        }
        self.inner.remove_function(dir)
    }

    fn root(&self) -> &Path {
        self.inner.root()
    }

    fn remote(&self) -> Option<&Arc<dyn Store>> {
        self.inner.remote()
    }

    fn forget_all(&self) {
        self.state().clear();
        self.inner.forget_all();
    }
}

#[cfg(test)]
mod tests;
