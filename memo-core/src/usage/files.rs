//! The `.usage` directory of a local cache: loading what every log and
//! the summary say, and compacting the logs into the summary.
//!
//! Every file here is read like any file in a cache (`store/read.rs`):
//! without blocking or following links, within bounds. A file with a log's
//! name that is not a regular file is skipped and left alone.

use std::collections::BTreeSet;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use super::Usage;
use super::record::{LOG_MAGIC, RECORD_LEN, Record, log_version, merge_records};
use crate::access::Access;
use crate::layout::USAGE_DIR;
use crate::store::read;
use crate::sys;

pub(super) const LOG_SUFFIX: &str = ".log";
const SUMMARY: &str = "summary";
/// A summary holds 56 bytes per entry: this is room for millions.
const MAX_SUMMARY_LEN: u64 = 1 << 30;
/// Logs are merged this many bytes (whole records) at a time.
const MERGE_CHUNK: u64 = (1 << 20) / RECORD_LEN as u64 * RECORD_LEN as u64;
const LOCK: &str = "lock";
const CHECKED_STAMP: &str = "checked";

impl Usage {
    /// Merges the records of one log from its cursor on; advances the
    /// cursor past the last whole record. The log is read in bounded
    /// chunks: memory does not grow with its size.
    fn merge_log(&mut self, name: &str, file: impl AsFd) -> io::Result<()> {
        let from = self.cursors.get(name).copied().unwrap_or(0);
        let size = read::regular_len(&file)?;
        if size <= from {
            return Ok(());
        }
        let mut at = from;
        let magic = read::read_range(&file, 0, LOG_MAGIC.len() as u64)?;
        if magic.len() < LOG_MAGIC.len() {
            return Ok(());
        }
        let Some(version) = log_version(&magic) else {
            // Not a log of ours (or a newer format): skip it whole.
            self.cursors.insert(name.to_owned(), size);
            return Ok(());
        };
        if from == 0 {
            at = LOG_MAGIC.len() as u64;
        }
        while at < size {
            let want = (size - at).min(MERGE_CHUNK);
            let bytes = read::read_range(&file, at, want)?;
            let whole = merge_records(self, &bytes, version);
            at += whole as u64;
            if whole < bytes.len() || whole == 0 {
                // A torn record at the end, or the log shrank: stop here.
                break;
            }
        }
        self.cursors.insert(name.to_owned(), at);
        Ok(())
    }
}

/// The identity of the summary file: a summary is replaced whole (a new
/// inode), so an equal stamp means the same contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SummaryStamp {
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl SummaryStamp {
    /// What stands for no summary at all.
    const ABSENT: SummaryStamp = SummaryStamp {
        ino: 0,
        size: 0,
        mtime_ns: 0,
        ctime_ns: 0,
    };
}

/// The summary's stamp now; `None` when it cannot be told.
// `st_*time_nsec` is `u64` on some targets and `i64` on others.
#[allow(clippy::unnecessary_cast)]
fn summary_stamp(dir: impl AsFd) -> Option<SummaryStamp> {
    match rustix::fs::statat(dir, SUMMARY, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => Some(SummaryStamp {
            ino: stat.st_ino as u64,
            size: stat.st_size as u64,
            mtime_ns: i128::from(stat.st_mtime as i64) * 1_000_000_000
                + i128::from(stat.st_mtime_nsec as i64),
            ctime_ns: i128::from(stat.st_ctime as i64) * 1_000_000_000
                + i128::from(stat.st_ctime_nsec as i64),
        }),
        Err(Errno::NOENT) => Some(SummaryStamp::ABSENT),
        Err(_) => None,
    }
}

/// Reads the summary; a damaged one (or something else under its name) is
/// reported and recounted from the logs.
fn read_summary(dir: impl AsFd) -> io::Result<Usage> {
    let damaged = |why: &dyn std::fmt::Display| {
        tracing::warn!(target: "memory", %why, "the usage summary is damaged; usage is recounted");
        Usage::default()
    };
    // Stamped before reading: a summary replaced meanwhile has another
    // stamp, so these contents are never taken for the new ones.
    let stamp = summary_stamp(&dir);
    let mut usage = match read::read_small(&dir, SUMMARY, MAX_SUMMARY_LEN) {
        Ok(Some(bytes)) => match Usage::decode(&bytes) {
            Some(usage) => usage,
            None => return Ok(damaged(&"bad contents")),
        },
        Ok(None) => Usage::default(),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => return Ok(damaged(&e)),
        Err(e) => return Err(e),
    };
    usage.summary = stamp;
    Ok(usage)
}

/// Reports a file in the usage directory that has a log's name but is not
/// one (a FIFO, a device): it is left alone.
fn skip_log(name: &str, why: &dyn std::fmt::Display) {
    tracing::warn!(target: "memory", name, %why, "not a usage log; skipped");
}

/// The log files in the usage directory.
pub(super) fn log_names(dir: impl AsFd) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    sys::list(dir, |name, _, _| {
        let name = std::ffi::OsStr::from_bytes(name.to_bytes());
        if let Some(name) = name.to_str()
            && name.ends_with(LOG_SUFFIX)
            && !name.starts_with('.')
        {
            names.push(name.to_owned());
        }
    })?;
    names.sort();
    Ok(names)
}

/// Everything recorded in the cache at `root`, merged, without changing
/// anything on disk.
pub(crate) fn load(root: &Path) -> io::Result<Usage> {
    let root = sys::open_root(root)?;
    let dir = match sys::open_dir(&root, USAGE_DIR) {
        Ok(dir) => dir,
        Err(Errno::NOENT) => return Ok(Usage::default()),
        Err(e) => return Err(e.into()),
    };
    let mut usage = read_summary(&dir)?;
    for name in log_names(&dir)? {
        match read::open_regular(&dir, &name) {
            Ok(Some((file, _))) => usage.merge_log(&name, file)?,
            Ok(None) => {}
            Err(e) if e.kind() == io::ErrorKind::InvalidData => skip_log(&name, &e),
            Err(e) => return Err(e),
        }
    }
    Ok(usage)
}

/// Folds every log into the summary, lets `edit` change the result (forget
/// removed entries), writes it, and deletes the logs whose writers are
/// gone. Returns the merged usage.
pub(crate) fn compact(
    root: &Path,
    access: Access,
    edit: impl FnOnce(&mut Usage),
) -> io::Result<Usage> {
    compact_from(root, access, None, edit)
}

/// [`compact`], starting from `loaded` (what [`load`] returned a moment
/// ago) instead of reading the summary again when the summary is still the
/// one `loaded` was read from: logs are then merged from `loaded`'s
/// cursors, which gives the same result.
pub(crate) fn compact_from(
    root: &Path,
    access: Access,
    loaded: Option<Usage>,
    edit: impl FnOnce(&mut Usage),
) -> io::Result<Usage> {
    let compacted = compact_when(root, access, Start::From(loaded), edit)?;
    Ok(compacted.expect("compacted whatever the logs"))
}

/// [`compact`] if some log's writer is gone (a log to fold and delete);
/// else nothing is read or written, and `edit` is not called. Says whether
/// it compacted. What is skipped is only deferred: live logs are merged on
/// every load, and the next compaction retires what `edit` would have.
pub(crate) fn compact_if_finished(
    root: &Path,
    access: Access,
    edit: impl FnOnce(&mut Usage),
) -> io::Result<bool> {
    let compacted = compact_when(root, access, Start::IfFinished, edit)?;
    Ok(compacted.is_some())
}

/// Where a compaction starts.
enum Start {
    /// From these records if the summary did not change since they were
    /// read, else from the summary on disk.
    From(Option<Usage>),
    /// From the summary on disk, and only if a log is finished.
    IfFinished,
}

fn compact_when(
    root: &Path,
    access: Access,
    start: Start,
    edit: impl FnOnce(&mut Usage),
) -> io::Result<Option<Usage>> {
    let root = sys::open_root(root)?;
    let dir = open_or_create_dir(&root, access)?;
    let lock = rustix::fs::openat(
        &dir,
        LOCK,
        OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(access.file_mode()),
    )?;
    sys::lock_exclusive(&lock, true)?;
    let logs = open_logs(&dir)?;
    let any_finished = logs.iter().any(|(_, _, done)| *done);
    let mut usage = match start {
        Start::IfFinished if !any_finished => return Ok(None),
        Start::From(Some(loaded))
            if loaded.summary.is_some() && loaded.summary == summary_stamp(&dir) =>
        {
            loaded
        }
        _ => read_summary(&dir)?,
    };
    let mut present = BTreeSet::new();
    let mut finished = Vec::new();
    for (name, file, done) in logs {
        usage.merge_log(&name, &file)?;
        present.insert(name.clone());
        if done {
            finished.push((name, file));
        }
    }
    usage.cursors.retain(|name, _| present.contains(name));
    let held = (usage.keys.len(), usage.retired.len());
    edit(&mut usage);
    // Edits only forget or retire records, which changes these counts. With
    // no finished log to fold and nothing forgotten, the summary on disk
    // still holds what it should (live logs are merged on every load): a
    // reduction that removes nothing does not rewrite it.
    if finished.is_empty() && held == (usage.keys.len(), usage.retired.len()) {
        return Ok(Some(usage));
    }
    write_atomically(&dir, SUMMARY, &usage.encode(), access)?;
    for (name, _file) in finished {
        let _ = rustix::fs::unlinkat(&dir, name.as_str(), AtFlags::empty());
    }
    Ok(Some(usage))
}

/// Opens every log of the usage directory `dir`, each with whether its
/// writer is gone (then this process holds its lock until the file is
/// closed).
fn open_logs(dir: &OwnedFd) -> io::Result<Vec<(String, OwnedFd, bool)>> {
    let mut logs = Vec::new();
    for name in log_names(dir)? {
        // Read-write for the lock; without blocking, as every read of a
        // file in a cache (see `store/read.rs`).
        let flags = OFlags::RDWR | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let file = match rustix::fs::openat(dir, name.as_str(), flags, Mode::empty()) {
            Ok(file) => Some(file),
            // Someone else's log in a shared cache we may only read.
            Err(Errno::ACCESS | Errno::PERM) => None,
            Err(Errno::NOENT) => continue,
            Err(Errno::LOOP | Errno::NXIO | Errno::NODEV) => {
                skip_log(&name, &read::ReadError::NotRegular);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let file = match file {
            Some(file) => file,
            None => match read::open_regular(dir, &name)? {
                Some((file, _)) => file,
                None => continue,
            },
        };
        if let Err(e) = read::regular_len(&file) {
            // Not a log, whatever its name: never merged, never removed.
            skip_log(&name, &e);
            continue;
        }
        // A log whose lock we can take has no writer left.
        let done = sys::lock_exclusive(&file, false).unwrap_or(false);
        logs.push((name, file, done));
    }
    Ok(logs)
}

pub(super) fn open_or_create_dir(root: impl AsFd, access: Access) -> io::Result<OwnedFd> {
    match sys::open_dir(&root, USAGE_DIR) {
        Ok(dir) => return Ok(dir),
        Err(Errno::NOENT) => {}
        Err(e) => return Err(e.into()),
    }
    // The first thing memo puts into a directory is its marker: `.usage`
    // in an empty, unmarked one would make it look like someone else's.
    if !crate::store::claim::is_marked(&root) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "no usage records in a directory memo has not marked as its cache",
        ));
    }
    let mode = Mode::from_raw_mode(access.dir_mode());
    match rustix::fs::mkdirat(&root, USAGE_DIR, mode) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(e.into()),
    }
    let dir = sys::open_dir(&root, USAGE_DIR)?;
    if access != Access::Owner {
        let _ = rustix::fs::fchmod(&dir, mode);
    }
    Ok(dir)
}

fn write_atomically(dir: impl AsFd, name: &str, bytes: &[u8], access: Access) -> io::Result<()> {
    let temp = format!(".{name}-{:016x}", sys::random_u64());
    let mode = Mode::from_raw_mode(access.file_mode());
    let file = rustix::fs::openat(
        &dir,
        temp.as_str(),
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        mode,
    )?;
    let written = (|| {
        if access != Access::Owner {
            rustix::fs::fchmod(&file, mode)?;
        }
        sys::write_all(&file, bytes)?;
        rustix::fs::renameat(&dir, temp.as_str(), &dir, name)?;
        Ok::<(), io::Error>(())
    })();
    if written.is_err() {
        let _ = rustix::fs::unlinkat(&dir, temp.as_str(), AtFlags::empty());
    }
    written
}

/// Writes the file `name` of the usage directory of the cache opened as
/// `root` (a directory already proven to be a cache) atomically: for what
/// administration keeps beside the records (the scan index).
pub(crate) fn write_file(
    root: impl AsFd,
    name: &str,
    bytes: &[u8],
    access: Access,
) -> io::Result<()> {
    let dir = open_or_create_dir(&root, access)?;
    write_atomically(&dir, name, bytes, access)
}

/// Writes a log of `records` as a finished process would have left it: for
/// tests and tools that build caches.
pub(crate) fn write_log(root: &Path, records: &[Record], access: Access) -> io::Result<()> {
    let root = sys::open_root(root)?;
    let dir = open_or_create_dir(&root, access)?;
    let mut bytes = LOG_MAGIC.to_vec();
    for record in records {
        record.write(&mut bytes);
    }
    let name = format!("0-{:016x}{LOG_SUFFIX}", sys::random_u64());
    write_atomically(&dir, &name, &bytes, access)
}

/// When any process last checked the limits of the cache at `root`.
pub(super) fn last_checked_ms(root: &Path) -> u64 {
    let stamp = root.join(USAGE_DIR).join(CHECKED_STAMP);
    std::fs::symlink_metadata(stamp)
        .and_then(|m| m.modified())
        .map_or(0, sys::millis)
}

/// Notes that the limits were just checked.
pub(crate) fn mark_checked(root: &Path, access: Access) {
    let stamp = (|| {
        let root = sys::open_root(root)?;
        let dir = open_or_create_dir(&root, access)?;
        write_atomically(&dir, CHECKED_STAMP, b"", access)
    })();
    if let Err(e) = stamp {
        tracing::debug!(target: "memory", %e, "cannot stamp the limit check");
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::Miss;
    use super::*;

    fn miss(key: u128) -> Record {
        Record::miss(key, 7, 1000, 10, Miss::default())
    }

    #[test]
    fn compacting_from_loaded_records_counts_each_record_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        crate::store::claim::claim(root, Access::Owner).unwrap();
        write_log(root, &[miss(1)], Access::Owner).unwrap();
        // Loaded, then a log appears before the compaction: merged once.
        let loaded = load(root).unwrap();
        write_log(root, &[miss(1), miss(2)], Access::Owner).unwrap();
        let compacted = compact_from(root, Access::Owner, Some(loaded), |_| {}).unwrap();
        assert_eq!(compacted.entry(1).unwrap().misses, 2);
        assert_eq!(compacted.entry(2).unwrap().misses, 1);
        // Loaded, then another compaction folds and deletes the logs: the
        // loaded records are stale and the summary is read again.
        let loaded = load(root).unwrap();
        write_log(root, &[miss(3)], Access::Owner).unwrap();
        compact(root, Access::Owner, |_| {}).unwrap();
        let compacted = compact_from(root, Access::Owner, Some(loaded), |_| {}).unwrap();
        assert_eq!(compacted.entry(1).unwrap().misses, 2);
        assert_eq!(compacted.entry(3).unwrap().misses, 1);
        assert_eq!(load(root).unwrap().entry(1).unwrap().misses, 2);
    }
}
