//! Where a cache's entries live, as administration sees them: one trait,
//! and the administration in `cache.rs` and `reduce.rs` written once over it.
//!
//! Two implementations: a local directory (`on_dir.rs`) and a shared
//! object store (`on_store.rs`). What differs between them is only *how*:
//! walking directories or listing objects, `unlinkat` with ownership
//! proofs or batched deletes, usage records in `.usage/` files or objects.
//! *What* to remove and what to report is decided once, above.

use std::fmt;
use std::io;

use crate::store::BlobSweep;
use crate::store::blobs::Damaged;

use super::Progress;
use super::reduce::Tally;
use super::scan::{Scan, ScannedEntry};
use crate::store::owned::Proof;
use crate::sys;
use crate::usage::{Record, Usage};

/// What could not be removed (indices into the scan).
#[derive(Debug, Default)]
pub(crate) struct Leftovers {
    /// Removal failed (a read-only cache, a permission, an unreachable store).
    pub failed: Vec<usize>,
    /// Named like an entry but not memo's: never removed.
    pub foreign: Vec<usize>,
}

impl Leftovers {
    pub(crate) fn contains(&self, i: usize) -> bool {
        self.failed.contains(&i) || self.foreign.contains(&i)
    }
}

/// What removing whole function directories did.
#[derive(Debug, Default)]
pub(crate) struct FunctionsRemoved {
    /// The function directories that are gone.
    pub removed: Vec<String>,
    /// Files left because they are not memo's.
    pub kept: u64,
}

/// The operations administration needs from the place a cache lives.
pub(crate) trait Backend: Send + Sync + fmt::Debug {
    /// Walks the cache: every function, code version, entry and temp file,
    /// with sizes and times (no entry is read).
    fn scan(&self, progress: &dyn Progress) -> io::Result<Scan>;

    /// Reads a whole entry; `NotFound` if it is gone.
    fn read_entry(&self, scan: &Scan, entry: &ScannedEntry) -> io::Result<Vec<u8>>;

    /// Removes the entries `victims` (indices into `scan`), each only if it
    /// is memo's; an entry already gone counts as removed.
    fn remove_entries(
        &self,
        scan: &Scan,
        victims: &[usize],
        proof: Proof,
        progress: &dyn Progress,
    ) -> io::Result<Leftovers>;

    /// Removes leftover temp files (indices into `scan.temps`); says what
    /// was removed.
    fn remove_temps(&self, scan: &Scan, temps: &[usize]) -> Tally;

    /// Removes whatever else of memo's the function directories hold after
    /// their entries went (`.current`, entries written since the scan), and
    /// the directories themselves once empty.
    fn remove_functions(&self, scan: &Scan, functions: &[usize]) -> io::Result<FunctionsRemoved>;

    /// Removes the code-version directories `versions` (indices into
    /// `scan.versions`) that are empty now. Objects have no directories.
    fn remove_empty_versions(&self, scan: &Scan, versions: &[usize]) {
        let _ = (scan, versions);
    }

    /// Removes what is left of computations that ended without cleaning up
    /// (a shared store's expired compute-once leases); says how many went.
    /// A directory has none.
    fn remove_stale_leases(&self) -> io::Result<u64> {
        Ok(0)
    }

    /// Removes the blobs no entry refers to any more (`store::blobs`).
    fn sweep_blobs(&self) -> io::Result<BlobSweep> {
        Ok(BlobSweep::default())
    }

    /// Reads every blob and checks it against its digest; with `repair`,
    /// removes the damaged ones.
    fn verify_blobs(&self, repair: bool) -> io::Result<Vec<Damaged>> {
        let _ = repair;
        Ok(Vec::new())
    }

    /// Every usage record, merged (nothing is written).
    fn usage(&self) -> io::Result<Usage>;

    /// Folds the usage records into one summary, letting `edit` change it,
    /// and retires the records of entries not in `scan` (older than it);
    /// starting from `loaded` (what [`Backend::usage`] returned a moment
    /// ago) where the backend can tell it is still current.
    fn compact_usage(
        &self,
        scan: &Scan,
        loaded: Option<Usage>,
        edit: &mut dyn FnMut(&mut Usage),
    ) -> io::Result<()>;

    /// What a reduction that removed nothing still owes the usage records:
    /// folding the logs of finished processes (so they do not pile up),
    /// retiring the records of entries not in `scan` on the way. A
    /// directory does it only when such a log exists (then nothing is read
    /// otherwise); by default, a compaction.
    fn fold_usage(&self, scan: &Scan) -> io::Result<()> {
        self.compact_usage(scan, None, &mut |_| {})
    }

    /// How many bytes the usage records take.
    fn usage_bytes(&self) -> u64;

    /// Appends usage records, as a finished process would have left them.
    fn write_log(&self, records: &[Record]) -> io::Result<()>;
}

/// Retires the records of entries that are gone: not in `scan`, and not
/// used since it started (a concurrent writer's new entry keeps its own).
pub(crate) fn retire_gone(usage: &mut Usage, scan: &Scan) {
    let present: sys::KeyMap<u128, ()> = scan.entries.iter().map(|e| (e.key, ())).collect();
    let gone: Vec<u128> = usage
        .keys
        .iter()
        .filter(|(key, k)| k.last_use_ms < scan.started_ms && !present.contains_key(key))
        .map(|(key, _)| *key)
        .collect();
    for key in gone {
        usage.retire(key, None);
    }
}
