//! Usage records: memo's own account of when each entry was used, so
//! least-recently-used eviction works on `noatime` mounts and on stores
//! without access times, and statistics (hits, misses, time saved) survive
//! the process.
//!
//! The call path feeds a [`Recorder`] (owned by a [`Memory`](crate::Memory));
//! administration (`manage`) loads and folds what recorders wrote. Neither
//! the recorder nor the formats know about administration's operations.
//!
//! - `kind.rs`: [`MissKind`], the kinds of reasons a miss is recorded with;
//! - `record.rs`: the log format, one fixed-size record per line of use;
//! - `summary.rs`: [`Usage`], the merged account, and its on-disk summary;
//! - `files.rs`: the `.usage` directory: loading, merging, compacting;
//! - `recorder.rs`: the per-`Memory` recorder the call path feeds.
//!
//! # Writing
//!
//! A hit must stay as cheap as it is: no system call is added to it. Each
//! process counts hits per entry in memory (one lock, one map update) and
//! appends one record per entry touched, with the count, to its own log,
//! `<cache>/.usage/<pid>-<random>.log`:
//! - on every miss (which writes an entry anyway),
//! - when 1024 entries have pending records,
//! - at most once a second from the call path (a clock read decides),
//! - when the [`Memory`](crate::Memory) is dropped, at normal process exit
//!   (`atexit`), and on [`Memory::flush_usage`](crate::Memory::flush_usage).
//!
//! What a process writes grows with the entries it touches and the seconds
//! it runs, not with its calls: a million hits of one key in a second are
//! one record. A process killed with `SIGKILL` loses at most its last second
//! of hits: least-recently-used order becomes approximate, nothing else.
//!
//! # Reading and compacting
//!
//! Readers merge `summary` (per-entry aggregates) with every log. Compaction
//! (run by `reduce_size`, `memo gc`, `memo clear`) folds the logs into a new
//! `summary` under an exclusive lock on `.usage/lock`. A log's writer holds
//! an open-file-description lock on it for as long as it is open, so the
//! compactor knows which logs are finished: those it merges and deletes;
//! live ones it merges up to a cursor kept in the summary, and leaves in
//! place. Cursors make a crash at any point harmless: no record is ever
//! counted twice.

mod files;
mod hooks;
mod kind;
mod record;
mod recorder;
mod summary;

use xxhash_rust::xxh3::xxh3_64;

pub(crate) use files::{compact_from, compact_if_finished, load, write_file, write_log};
pub(crate) use hooks::{Hooks, Thresholds, Used};
pub use kind::MissKind;
pub(crate) use record::{
    Kind, LOG_MAGIC, Miss, RECORD_LEN, Record, UNKNOWN, log_version, merge_records,
};
pub(crate) use recorder::Recorder;
pub use summary::{EntryUsage, Usage};
pub(crate) use summary::{RECENT_MISSES, Totals};

/// The hash that stands for a function directory in usage records.
pub(crate) fn dir_hash(dir: &str) -> u64 {
    xxh3_64(dir.as_bytes())
}
