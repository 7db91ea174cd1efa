//! The in-process tier ([`Memory::in_process`](crate::Memory::in_process)):
//! entries this process used recently, kept in memory within a byte budget,
//! in front of the store the `Memory` opened.
//!
//! A copy is kept by the call path once an entry read from the store was
//! verified and found usable (checksum, key, expiry, validation, recorded
//! dependencies), under the call's key and the function that asked: so a
//! later call looks it up by its key alone, before anything touches the
//! file system or builds a path, and serves nothing the store would not.
//! What a hit does is in `call.rs` (`Kept`): the expiry and validation
//! checks when the function has any, decoding the output as the caller's
//! type (no `Clone` bound, every output type takes part), and counting the
//! hit on the copy. The checksum is not computed again: the bytes were
//! verified when they were kept and never change. A compressed output is
//! kept uncompressed beside the entry, so a hit does not decompress it.
//!
//! Arrays are never copied into it: an entry holding out-of-line arrays or
//! referring to arrays stored by content is not kept (it is read or mapped
//! from the store on every hit).
//!
//! Eviction is two generations, an approximate LRU in O(1): copies go into
//! the young generation; when it would pass half the budget it becomes the
//! old one (the previous old one is dropped); a hit in the old generation
//! moves the copy back to the young one. Both together never hold more than
//! the budget.
//!
//! Other processes: at most once every [`CHECK_EVERY_MS`] per copy
//! (`Memory::in_process_recheck`), a hit
//! checks that the entry file is still the one kept (same length and
//! modification time); if another process removed it (its `clear`,
//! `reduce_size`, `memo gc`, a handle's `clear`) or replaced it, the copy is
//! dropped and the call goes to the store. So a copy outlives a foreign
//! removal by at most that long. This process's own writes, rejections and
//! removals through the `Memory` drop the copies they concern at once.
//!
//! Usage records: a hit adds one to a counter on the copy; the counts go to
//! the `Memory`'s usage recorder at that same check (at most once a second
//! per copy, so the last use recorded for the size limits is at most that
//! late), when the copy is dropped, by `Memory::flush_usage`, and at
//! process exit.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, OnceLock, PoisonError, Weak};
use std::time::SystemTime;

use super::{EntryStore, KeyGuard, Store, StoredEntry};
use crate::entry::{Entry, Layout};
use crate::function::CachedFn;
use crate::hash::Digest;
use crate::memory::Memory;
use crate::sys::{self, KeyMap};

/// How often a hit checks that its entry file is still the one kept, and
/// hands its hit count to the usage recorder, at most (milliseconds), by
/// default (`Memory::in_process_recheck`).
const CHECK_EVERY_MS: u64 = 1000;

/// Bytes counted per kept copy beyond its bytes and path: the map slot,
/// the copy's fields and allocation headers, roughly.
const SLOT_OVERHEAD: u64 = 160;

/// A store with the in-process tier in front.
pub(crate) struct InProcess {
    inner: Box<dyn EntryStore>,
    tier: Arc<Tier>,
}

/// The copies, shared with the exit handler that hands their pending hit
/// counts to the usage recorder.
struct Tier {
    /// Bytes the two generations may hold together.
    budget: u64,
    /// How often a copy checks its file, at most (milliseconds).
    recheck_ms: u64,
    state: Mutex<Generations>,
}

/// One kept entry: what a hit needs, fixed when it was kept.
pub(crate) struct Kept {
    /// The resolved function whose call kept it: a lookup by another
    /// function with the same key (another definition sharing an identity)
    /// does not see it.
    pub function: &'static CachedFn,
    pub memory: &'static Memory,
    pub key: Digest,
    /// The entry's path in the store.
    pub path: Box<str>,
    /// The whole entry file, verified when kept.
    pub bytes: Box<[u8]>,
    /// Where its parts lie in `bytes`.
    layout: Layout,
    /// The output uncompressed, when the entry's is compressed.
    pub uncompressed: Option<Box<[u8]>>,
    /// The file's length and modification time when kept, to tell whether
    /// another process removed or replaced it.
    file: Option<(u64, SystemTime)>,
    /// When (coarse monotonic ms) a hit next checks the file and hands on
    /// the hit count.
    next_check: AtomicU64,
    /// Hits not yet handed to the usage recorder.
    pending: AtomicU64,
    /// The address and length of the first type name this copy was
    /// decoded as, once its hash matched the entry's: the same `&'static
    /// str` again is the same name, and is not hashed again.
    served_as: OnceLock<(usize, usize)>,
}

impl Kept {
    fn cost(&self) -> u64 {
        let uncompressed = self.uncompressed.as_ref().map_or(0, |b| b.len());
        (self.bytes.len() + uncompressed + self.path.len()) as u64 + SLOT_OVERHEAD
    }

    /// The entry, as verified when it was kept.
    pub(crate) fn entry(&self) -> Entry<'_> {
        Entry::at(&self.bytes, &self.layout)
    }

    /// Whether the copy is due for its check ([`InProcess::check`]) before
    /// it is served, `now` on [`sys::coarse_ms`]'s clock.
    #[inline]
    pub(crate) fn due(&self, now: u64) -> bool {
        now >= self.next_check.load(Ordering::Relaxed)
    }

    /// Whether the output type named `wanted` is the one stored: the
    /// entry's type hash compared, once per copy and type name.
    #[inline]
    pub(crate) fn stores_type(&self, wanted: &'static str) -> bool {
        let name = (wanted.as_ptr() as usize, wanted.len());
        if self.served_as.get() == Some(&name) {
            return true;
        }
        if self.layout.type_hash() != crate::entry::type_hash(wanted) {
            return false;
        }
        let _ = self.served_as.set(name);
        true
    }

    /// Counts a served hit, for the usage records.
    #[inline]
    pub(crate) fn count_hit(&self) {
        self.pending.fetch_add(1, Ordering::Relaxed);
    }

    /// Hands the pending hit count to the usage recorder.
    fn fold(&self, wait: bool) {
        let count = self.pending.swap(0, Ordering::Relaxed);
        if count == 0 {
            return;
        }
        if let Some(recorder) = self.memory.recorder() {
            recorder.add_hits(self.function.used(), self.key, count, sys::now_ms(), wait);
        }
    }
}

/// Copies by key (the function is compared on every lookup).
#[derive(Default)]
struct Generation {
    slots: KeyMap<Digest, Arc<Kept>>,
    bytes: u64,
}

impl Generation {
    fn take(&mut self, key: Digest) -> Option<Arc<Kept>> {
        let kept = self.slots.remove(&key)?;
        self.bytes -= kept.cost();
        Some(kept)
    }

    fn insert(&mut self, kept: Arc<Kept>) -> Option<Arc<Kept>> {
        self.bytes += kept.cost();
        let old = self.slots.insert(kept.key, kept)?;
        self.bytes -= old.cost();
        Some(old)
    }
}

#[derive(Default)]
struct Generations {
    young: Generation,
    old: Generation,
}

impl Generations {
    /// Adds `kept` to the young generation, which becomes the old one
    /// first if `kept` would take it past `half`. Returns what was dropped.
    fn insert(&mut self, kept: Arc<Kept>, half: u64) -> Vec<Arc<Kept>> {
        let mut dropped: Vec<Arc<Kept>> = Vec::new();
        dropped.extend(self.old.take(kept.key));
        dropped.extend(self.young.take(kept.key));
        if self.young.bytes + kept.cost() > half {
            let old = std::mem::replace(&mut self.old, std::mem::take(&mut self.young));
            dropped.extend(old.slots.into_values());
        }
        dropped.extend(self.young.insert(kept));
        debug_assert!(self.young.bytes + self.old.bytes <= 2 * half);
        dropped
    }

    fn all(&self) -> impl Iterator<Item = &Arc<Kept>> {
        self.young.slots.values().chain(self.old.slots.values())
    }
}

/// Tiers alive in this process, whose pending hits are handed on at exit.
static LIVE: Mutex<Vec<Weak<Tier>>> = Mutex::new(Vec::new());

extern "C" fn fold_at_exit() {
    // Never block at exit: a lock held by another thread means skipping.
    let Ok(live) = LIVE.try_lock() else { return };
    for tier in live.iter().filter_map(Weak::upgrade) {
        if let Ok(state) = tier.state.try_lock() {
            state.all().for_each(|kept| kept.fold(false));
        }
    }
}

impl Tier {
    fn state(&self) -> MutexGuard<'_, Generations> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops the copies `remove` picks, handing on their hit counts.
    fn drop_where(&self, mut remove: impl FnMut(&Kept) -> bool) {
        let mut dropped = Vec::new();
        {
            let mut state = self.state();
            let Generations { young, old } = &mut *state;
            for generation in [young, old] {
                generation.slots.retain(|_, kept| {
                    if remove(kept) {
                        generation.bytes -= kept.cost();
                        dropped.push(Arc::clone(kept));
                        return false;
                    }
                    true
                });
            }
        }
        fold_all(&dropped);
    }
}

/// Hands on the hit counts of copies no longer in the tier (outside its
/// lock: the recorder may write through the store, which takes it).
fn fold_all(dropped: &[Arc<Kept>]) {
    dropped.iter().for_each(|kept| kept.fold(true));
}

impl InProcess {
    /// `inner` with a tier of `budget` bytes in front.
    /// `recheck`: how often a copy checks its file at most (`None`: the
    /// default, [`CHECK_EVERY_MS`]).
    pub(crate) fn new(
        inner: Box<dyn EntryStore>,
        budget: u64,
        recheck: Option<std::time::Duration>,
    ) -> InProcess {
        let recheck_ms = recheck.map_or(CHECK_EVERY_MS, |every| {
            u64::try_from(every.as_millis()).unwrap_or(u64::MAX)
        });
        InProcess {
            inner,
            tier: Arc::new(Tier {
                budget,
                recheck_ms,
                state: Mutex::new(Generations::default()),
            }),
        }
    }

    /// The copy `function` kept for `key`, moved to the young generation if
    /// it was in the old one.
    #[inline]
    pub(crate) fn get(&self, function: &CachedFn, key: Digest) -> Option<Arc<Kept>> {
        let mut state = self.tier.state();
        if let Some(kept) = state.young.slots.get(&key) {
            return std::ptr::eq(kept.function, function).then(|| Arc::clone(kept));
        }
        let kept = state.old.slots.get(&key)?;
        if !std::ptr::eq(kept.function, function) {
            return None;
        }
        let kept = state.old.take(key)?;
        let dropped = state.insert(Arc::clone(&kept), self.tier.budget / 2);
        drop(state);
        fold_all(&dropped);
        Some(kept)
    }

    /// The check a hit makes at most every `recheck_ms`: hands on
    /// the copy's hit count, and whether its file is still the one kept;
    /// if not, drops the copy and says `false` (the call goes to the store).
    #[cold]
    pub(crate) fn check(&self, kept: &Arc<Kept>, now: u64) -> bool {
        kept.next_check
            .store(now.saturating_add(self.tier.recheck_ms), Ordering::Relaxed);
        let unchanged =
            kept.file.is_some() && file_identity(self.inner.root(), &kept.path) == kept.file;
        if !unchanged {
            // The store decides.
            self.drop_copy(kept);
            return false;
        }
        kept.fold(true);
        true
    }

    /// Keeps the entry `function` read for `key` at `path`, verified and
    /// found usable, if it is whole and without out-of-line arrays, and
    /// fits the budget.
    pub(crate) fn keep(
        &self,
        function: &'static CachedFn,
        memory: &'static Memory,
        key: Digest,
        path: &str,
        stored: &StoredEntry,
    ) {
        if stored.len != stored.bytes.len() as u64 {
            return;
        }
        let Ok(entry) = Entry::parse_verified(&stored.bytes, stored.len) else {
            return;
        };
        if entry.has_blobs() || entry.key() != key {
            return;
        }
        let uncompressed = match entry.uncompressed_output() {
            Ok(uncompressed) => uncompressed.map(Vec::into_boxed_slice),
            Err(_) => return,
        };
        let layout = entry.layout();
        let kept = Kept {
            function,
            memory,
            key,
            path: path.into(),
            bytes: stored.bytes.as_slice().into(),
            layout,
            uncompressed,
            file: file_identity(self.inner.root(), path),
            next_check: AtomicU64::new(sys::coarse_ms().saturating_add(self.tier.recheck_ms)),
            pending: AtomicU64::new(0),
            served_as: OnceLock::new(),
        };
        if kept.cost() > self.tier.budget / 2 {
            return;
        }
        register(&self.tier, memory);
        let dropped = self
            .tier
            .state()
            .insert(Arc::new(kept), self.tier.budget / 2);
        fold_all(&dropped);
    }

    /// Drops `kept` if it is still in the tier.
    pub(crate) fn drop_copy(&self, kept: &Arc<Kept>) {
        self.take_at(kept.key, |other| Arc::ptr_eq(other, kept));
    }

    /// Drops the copy of the entry at `path`, if one is kept.
    fn forget(&self, path: &str) {
        let name = path.rsplit('/').next().unwrap_or(path);
        // Not an entry name: nothing is kept under it.
        let Some(key) = crate::layout::parse_entry_name(name.as_bytes()) else {
            return;
        };
        self.take_at(key, |kept| kept.path.as_ref() == path);
    }

    /// Drops the copy kept under `key` if `is` says it is the one meant,
    /// handing on its hit count.
    fn take_at(&self, key: Digest, is: impl Fn(&Arc<Kept>) -> bool) {
        let taken = {
            let mut state = self.tier.state();
            let Generations { young, old } = &mut *state;
            [young, old]
                .into_iter()
                .filter(|generation| generation.slots.get(&key).is_some_and(&is))
                .filter_map(|generation| generation.take(key))
                .collect::<Vec<_>>()
        };
        fold_all(&taken);
    }
}

/// Adds `tier` to those handed on at exit, once.
fn register(tier: &Arc<Tier>, memory: &Memory) {
    static EXIT: Once = Once::new();
    EXIT.call_once(|| {
        // After the usage recorder's own exit handler is registered (when
        // the first recorder is made), so that this one runs first: atexit
        // handlers run in reverse.
        let _ = memory.recorder();
        // SAFETY: `fold_at_exit` is a plain `extern "C" fn()` that never
        // unwinds (it only takes locks without waiting).
        unsafe { libc::atexit(fold_at_exit) };
    });
    let mut live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
    if live
        .iter()
        .any(|weak| std::ptr::eq(weak.as_ptr(), Arc::as_ptr(tier)))
    {
        return;
    }
    live.retain(|weak| weak.strong_count() > 0);
    live.push(Arc::downgrade(tier));
}

/// The length and modification time of the entry file at `path` in the
/// store at `root`; `None` when there is none (or it cannot be seen).
fn file_identity(root: &Path, path: &str) -> Option<(u64, SystemTime)> {
    let metadata = std::fs::symlink_metadata(root.join(path)).ok()?;
    Some((metadata.len(), metadata.modified().ok()?))
}

impl fmt::Debug for InProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcess")
            .field("budget", &self.tier.budget)
            .field("inner", &self.inner)
            .finish()
    }
}

impl EntryStore for InProcess {
    fn read(&self, path: &str) -> io::Result<Option<StoredEntry>> {
        // Hits are looked up by key before a path exists (`call.rs`); a
        // read by path is a read from the store.
        self.inner.read(path)
    }

    fn in_process(&self) -> Option<&InProcess> {
        Some(self)
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
        self.tier.drop_where(|kept| kept.path.starts_with(&prefix));
        self.inner.remove_function(dir)
    }

    fn root(&self) -> &Path {
        self.inner.root()
    }

    fn remote(&self) -> Option<&Arc<dyn Store>> {
        self.inner.remote()
    }

    fn forget_all(&self) {
        self.tier.drop_where(|_| true);
        self.inner.forget_all();
    }

    fn flush_kept_hits(&self) {
        let state = self.tier.state();
        let kept: Vec<Arc<Kept>> = state.all().cloned().collect();
        drop(state);
        fold_all(&kept);
    }
}
