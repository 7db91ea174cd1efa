//! Managing a cache: size, count and age limits, stale code versions,
//! expiry, statistics — the machinery behind [`Memory::reduce_size`], the
//! automatic limits, and the `memo` command-line tool.
//!
//! A cache that only grows is a liability. memo records every use of every
//! entry itself (see `crate::usage`: counted in memory, appended to a
//! per-process log, no system call added to a hit), so eviction is
//! least-recently-used even on `noatime` mounts, and statistics (hits,
//! misses, the compute time hits saved) survive the process.
//!
//! From code, a [`Memory`] reduces itself by hand or automatically:
//!
//! ```
//! use std::time::Duration;
//! use memory::Memory;
//! use memory::manage::Limits;
//!
//! let dir = tempfile::tempdir().unwrap();
//! // Automatic: checked in the background after every tenth of a limit
//! // written, never with a scan per call.
//! let memory = Memory::new(dir.path()).bytes_limit("10G").items_limit(100_000);
//! // By hand, joblib's reduce_size: least recently used entries go first.
//! let report = memory
//!     .reduce_size(Limits::new().bytes("1G").age(Duration::from_secs(30 * 86_400)))
//!     .unwrap();
//! assert_eq!(report.removed.entries, 0);
//! ```
//!
//! Tools open a cache directory as a [`Cache`]: the `memo` binary is built
//! on it.
//!
//! [`Memory`]: crate::Memory
//! [`Memory::reduce_size`]: crate::Memory::reduce_size

mod backend;
mod cache;
mod clear;
pub(crate) mod current;
mod on_dir;
mod on_store;
mod reduce;
pub(crate) mod remote;
mod scan;
mod scan_index;
mod settled;
mod size;
mod stats;
mod validation;
mod verify;
mod why;

use std::time::Duration;

pub use crate::readable::{format_ago, format_duration, format_utc};
pub use cache::{
    Cache, Cleared, EntryDetails, EntryRow, FindError, OpenError, Problem, UsageRecord, Verified,
};
pub use reduce::{FunctionRemoval, ReduceOptions, Reduced, Tally};
pub use scan::Scan;
pub use size::{ByteSize, IntoByteSize, ParseError, parse_age};
pub use stats::{FunctionStats, VersionStats};
pub use usage::{EntryUsage, Usage};
pub use validation::expires_after;
pub use why::{Kept, MissRow, Misses};
// Administration reads and folds what the call path records.
pub(crate) use crate::usage;

/// Limits for [`Memory::reduce_size`](crate::Memory::reduce_size) and
/// [`Cache::reduce`] (joblib's `bytes_limit`, `items_limit`, `age_limit`),
/// plus stale code versions.
///
/// ```
/// use std::time::Duration;
/// use memory::manage::Limits;
///
/// let limits = Limits::new()
///     .bytes("10G")                              // at most 10 GiB
///     .items(1_000_000)                          // at most a million entries
///     .age(Duration::from_secs(30 * 86_400))     // none unused for 30 days
///     .stale(true);                              // no outdated code versions
/// assert!(!limits.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Remove least recently used entries until the cache holds at most
    /// this many bytes.
    pub bytes: Option<ByteSize>,
    /// Remove least recently used entries until at most this many remain.
    pub items: Option<u64>,
    /// Remove entries not used for longer than this.
    pub age: Option<Duration>,
    /// Remove every code version of a function but its current one (see
    /// [`Memory::gc_stale`](crate::Memory::gc_stale)).
    pub stale: bool,
}

impl Limits {
    /// No limits: reducing removes nothing but leftover temp files.
    pub fn new() -> Limits {
        Limits::default()
    }

    /// At most `limit` bytes: `"10G"`, `"500M"`, `"1.5GiB"` or a number.
    ///
    /// # Panics
    ///
    /// If `limit` is a string that is not a size (see [`ByteSize`]).
    pub fn bytes(mut self, limit: impl IntoByteSize) -> Limits {
        self.bytes = Some(limit.into_byte_size());
        self
    }

    /// At most `limit` entries.
    pub fn items(mut self, limit: u64) -> Limits {
        self.items = Some(limit);
        self
    }

    /// No entry unused for longer than `limit`.
    pub fn age(mut self, limit: Duration) -> Limits {
        self.age = Some(limit);
        self
    }

    /// Whether to remove stale code versions.
    pub fn stale(mut self, stale: bool) -> Limits {
        self.stale = stale;
        self
    }

    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_none() && self.items.is_none() && self.age.is_none() && !self.stale
    }

    /// Whether `tally` is over the size or the count limit.
    pub(crate) fn over(&self, tally: &Tally) -> bool {
        self.bytes.is_some_and(|limit| tally.bytes > limit.0)
            || self.items.is_some_and(|limit| tally.entries > limit)
    }
}

/// Progress of a long operation, for tools that show it (the `memo` binary
/// draws a bar). Every method has a do-nothing default.
pub trait Progress: Sync {
    /// A phase begins: `what` it does, and how many units it will take when
    /// known.
    fn start(&self, what: &str, total: Option<u64>) {
        let _ = (what, total);
    }
    /// `done` more units are done.
    fn advance(&self, done: u64) {
        let _ = done;
    }
    /// The phase is over.
    fn finish(&self) {}
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
