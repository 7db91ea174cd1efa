//! Usage records: memo's own account of when each entry was used, so
//! least-recently-used eviction works on `noatime` mounts and on stores
//! without access times, and statistics (hits, misses, time saved) survive
//! the process.
//!
//! # Writing
//!
//! A hit must stay as cheap as it is: no system call is added to it. Each
//! process buffers fixed-size records in memory (one lock, one push) and
//! appends them to its own log, `<cache>/.usage/<pid>-<random>.log`:
//! - on every miss (which writes an entry anyway),
//! - when the buffer holds 1024 records,
//! - at most once a second from the call path (a clock read decides),
//! - when the [`Memory`](crate::Memory) is dropped, at normal process exit
//!   (`atexit`), and on [`Memory::flush_usage`](crate::Memory::flush_usage).
//!
//! A process killed with `SIGKILL` loses at most its last second of hits:
//! least-recently-used order becomes approximate, nothing else.
//!
//! A log starts with an 8-byte magic, `MEMOLOG\x01`, followed by records of
//! 40 bytes (little-endian): the entry key (16), the xxh3-64 of the function
//! directory's name (8), the time in milliseconds since the Unix epoch in the
//! low 56 bits and the kind (1 hit, 2 miss) in the high 8 bits (8), and for a
//! miss how long the function ran in microseconds (8). A torn record at the
//! end of a log (a crash mid-write) is ignored.
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

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, PoisonError, Weak};
use std::time::{Duration, SystemTime};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;
use xxhash_rust::xxh3::xxh3_64;

use super::Limits;
use super::current::{self, Current};
use super::fsutil::{self, KeyMap};
use crate::access::Access;
use crate::function::CachedFn;
use crate::store::read;

/// The usage directory, at the top of a cache.
pub(crate) const USAGE_DIR: &str = ".usage";
pub(crate) const LOG_MAGIC: [u8; 8] = *b"MEMOLOG\x01";
const LOG_SUFFIX: &str = ".log";
pub(crate) const RECORD_LEN: usize = 40;
const SUMMARY: &str = "summary";
const SUMMARY_MAGIC: [u8; 8] = *b"MEMOSUM\x01";
const SUMMARY_KEY_LEN: usize = 56;
const SUMMARY_RETIRED_LEN: usize = 32;
/// A summary holds 56 bytes per entry: this is room for millions.
const MAX_SUMMARY_LEN: u64 = 1 << 30;
/// Logs are merged this many bytes (whole records) at a time.
const MERGE_CHUNK: u64 = (1 << 20) / RECORD_LEN as u64 * RECORD_LEN as u64;
const LOCK: &str = "lock";
/// Flush buffered hits at most this often from the call path.
const FLUSH_INTERVAL_MS: u64 = 1000;
/// Flush when this many bytes of records are buffered.
const BUFFER_LIMIT: usize = 1024 * RECORD_LEN;
const TIME_MASK: u64 = (1 << 56) - 1;
/// An unknown duration.
const UNKNOWN: u64 = u64::MAX;
/// A process checks the limits on its first write only if no process
/// checked them for this long (see [`Recorder::miss`]).
const RECHECK_AFTER_MS: u64 = 10 * 60 * 1000;
const CHECKED_STAMP: &str = "checked";
/// A process that finds more logs than this compacts them.
const COMPACT_AFTER_LOGS: usize = 256;

/// The hash that stands for a function directory in usage records.
pub(crate) fn dir_hash(dir: &str) -> u64 {
    xxh3_64(dir.as_bytes())
}

/// What happened to an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Served from the cache.
    Hit = 1,
    /// Computed (and stored, if storable).
    Miss = 2,
}

/// One usage record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record {
    pub key: u128,
    pub function: u64,
    pub time_ms: u64,
    pub kind: Kind,
    /// How long a miss ran, in microseconds; [`UNKNOWN`] for a hit.
    pub duration_us: u64,
}

impl Record {
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.key.to_le_bytes());
        out.extend_from_slice(&self.function.to_le_bytes());
        let stamp = (self.time_ms & TIME_MASK) | (self.kind as u64) << 56;
        out.extend_from_slice(&stamp.to_le_bytes());
        out.extend_from_slice(&self.duration_us.to_le_bytes());
    }

    pub(crate) fn read(bytes: &[u8]) -> Option<Record> {
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        let stamp = u64_at(24);
        let kind = match stamp >> 56 {
            1 => Kind::Hit,
            2 => Kind::Miss,
            _ => return None,
        };
        Some(Record {
            key: u128::from_le_bytes(bytes[0..16].try_into().unwrap()),
            function: u64_at(16),
            time_ms: stamp & TIME_MASK,
            kind,
            duration_us: u64_at(32),
        })
    }
}

/// The recorded use of one entry (one key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyUsage {
    /// [`dir_hash`] of the function's directory.
    pub function: u64,
    /// The last hit or miss, in milliseconds since the Unix epoch.
    pub last_use_ms: u64,
    pub hits: u64,
    pub misses: u64,
    /// When the latest miss computed it.
    pub computed_ms: u64,
    /// How long that computation took, in microseconds, or [`UNKNOWN`].
    pub duration_us: u64,
}

/// Counters of one function's entries that are gone (evicted or removed):
/// what they were hit, missed, and saved stays in the function's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub hits: u64,
    pub misses: u64,
    pub saved_us: u64,
}

/// Everything recorded about a cache's use, merged.
#[derive(Debug, Default, Clone)]
pub struct Usage {
    pub(crate) keys: KeyMap<u128, KeyUsage>,
    pub(crate) retired: KeyMap<u64, Totals>,
    /// Per log file: how many of its bytes the summary holds.
    pub(crate) cursors: BTreeMap<String, u64>,
}

/// What is recorded about one entry, for tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntryUsage {
    /// The last time the entry was used (computed or served).
    pub last_used: SystemTime,
    /// How often it was served from the cache.
    pub hits: u64,
    /// How often it was computed.
    pub misses: u64,
    /// How long its latest computation took, if recorded.
    pub duration: Option<Duration>,
}

impl Usage {
    /// What is recorded about the entry with `key`.
    pub fn entry(&self, key: u128) -> Option<EntryUsage> {
        self.keys.get(&key).map(|k| EntryUsage {
            last_used: fsutil::time_of(k.last_use_ms),
            hits: k.hits,
            misses: k.misses,
            duration: (k.duration_us != UNKNOWN).then(|| Duration::from_micros(k.duration_us)),
        })
    }

    /// How many entries (keys) have records.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.retired.is_empty()
    }

    pub(crate) fn apply(&mut self, record: &Record) {
        let usage = self.keys.entry(record.key).or_insert(KeyUsage {
            function: record.function,
            last_use_ms: 0,
            hits: 0,
            misses: 0,
            computed_ms: 0,
            duration_us: UNKNOWN,
        });
        usage.function = record.function;
        usage.last_use_ms = usage.last_use_ms.max(record.time_ms);
        match record.kind {
            Kind::Hit => usage.hits += 1,
            Kind::Miss => {
                usage.misses += 1;
                if record.time_ms >= usage.computed_ms {
                    usage.computed_ms = record.time_ms;
                    if record.duration_us != UNKNOWN {
                        usage.duration_us = record.duration_us;
                    }
                }
            }
        }
    }

    /// Moves the counters of `key` (an entry that is gone) into its
    /// function's totals. `duration_us` stands in for an unknown duration.
    pub(crate) fn retire(&mut self, key: u128, duration_us: Option<u64>) {
        if let Some(usage) = self.keys.remove(&key) {
            let totals = self.retired.entry(usage.function).or_default();
            totals.hits += usage.hits;
            totals.misses += usage.misses;
            let duration = match usage.duration_us {
                UNKNOWN => duration_us.unwrap_or(0),
                known => known,
            };
            totals.saved_us = totals
                .saved_us
                .saturating_add(usage.hits.saturating_mul(duration));
        }
    }

    /// Forgets everything recorded about the function `function`.
    pub(crate) fn forget_function(&mut self, function: u64) {
        self.keys.retain(|_, usage| usage.function != function);
        self.retired.remove(&function);
    }

    /// Forgets everything.
    pub(crate) fn forget_all(&mut self) {
        self.keys.clear();
        self.retired.clear();
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            32 + self.keys.len() * SUMMARY_KEY_LEN + self.retired.len() * SUMMARY_RETIRED_LEN,
        );
        out.extend_from_slice(&SUMMARY_MAGIC);
        for count in [self.keys.len(), self.retired.len(), self.cursors.len()] {
            out.extend_from_slice(&(count as u64).to_le_bytes());
        }
        for (key, usage) in &self.keys {
            out.extend_from_slice(&key.to_le_bytes());
            out.extend_from_slice(&usage.function.to_le_bytes());
            out.extend_from_slice(&usage.last_use_ms.to_le_bytes());
            out.extend_from_slice(&(usage.hits.min(u32::MAX.into()) as u32).to_le_bytes());
            out.extend_from_slice(&(usage.misses.min(u32::MAX.into()) as u32).to_le_bytes());
            out.extend_from_slice(&usage.computed_ms.to_le_bytes());
            out.extend_from_slice(&usage.duration_us.to_le_bytes());
        }
        for (function, totals) in &self.retired {
            for value in [*function, totals.hits, totals.misses, totals.saved_us] {
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
        for (name, offset) in &self.cursors {
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
        }
        let sum = xxh3_64(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Usage> {
        let (body, sum) = bytes.split_last_chunk::<8>()?;
        if xxh3_64(body) != u64::from_le_bytes(*sum) || !body.starts_with(&SUMMARY_MAGIC) {
            return None;
        }
        let mut at = SUMMARY_MAGIC.len();
        let mut take = |len: usize| -> Option<&[u8]> {
            let part = body.get(at..at.checked_add(len)?)?;
            at += len;
            Some(part)
        };
        let u64_of = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
        let counts = take(24)?;
        let (keys, retired, cursors) = (
            u64_of(counts, 0) as usize,
            u64_of(counts, 8) as usize,
            u64_of(counts, 16) as usize,
        );
        let mut usage = Usage::default();
        let key_bytes = take(keys.checked_mul(SUMMARY_KEY_LEN)?)?;
        usage.keys.reserve(keys);
        for chunk in key_bytes.chunks_exact(SUMMARY_KEY_LEN) {
            let u32_at = |at: usize| u32::from_le_bytes(chunk[at..at + 4].try_into().unwrap());
            usage.keys.insert(
                u128::from_le_bytes(chunk[0..16].try_into().unwrap()),
                KeyUsage {
                    function: u64_of(chunk, 16),
                    last_use_ms: u64_of(chunk, 24),
                    hits: u32_at(32).into(),
                    misses: u32_at(36).into(),
                    computed_ms: u64_of(chunk, 40),
                    duration_us: u64_of(chunk, 48),
                },
            );
        }
        let retired_bytes = take(retired.checked_mul(SUMMARY_RETIRED_LEN)?)?;
        for chunk in retired_bytes.chunks_exact(SUMMARY_RETIRED_LEN) {
            usage.retired.insert(
                u64_of(chunk, 0),
                Totals {
                    hits: u64_of(chunk, 8),
                    misses: u64_of(chunk, 16),
                    saved_us: u64_of(chunk, 24),
                },
            );
        }
        for _ in 0..cursors {
            let len = u16::from_le_bytes(take(2)?.try_into().unwrap()) as usize;
            let name = std::str::from_utf8(take(len)?).ok()?.to_owned();
            let offset = u64::from_le_bytes(take(8)?.try_into().unwrap());
            usage.cursors.insert(name, offset);
        }
        (at == body.len()).then_some(usage)
    }

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
        if from == 0 {
            let magic = read::read_range(&file, 0, LOG_MAGIC.len() as u64)?;
            if magic.len() < LOG_MAGIC.len() {
                return Ok(());
            }
            if magic != LOG_MAGIC {
                // Not a log of ours (or a newer format): skip it whole.
                self.cursors.insert(name.to_owned(), size);
                return Ok(());
            }
            at = LOG_MAGIC.len() as u64;
        }
        while at < size {
            let want = (size - at).min(MERGE_CHUNK);
            let bytes = read::read_range(&file, at, want)?;
            let whole = bytes.len() / RECORD_LEN * RECORD_LEN;
            for chunk in bytes[..whole].chunks_exact(RECORD_LEN) {
                if let Some(record) = Record::read(chunk) {
                    self.apply(&record);
                }
            }
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

/// Reads the summary; a damaged one (or something else under its name) is
/// reported and recounted from the logs.
fn read_summary(dir: impl AsFd) -> io::Result<Usage> {
    let damaged = |why: &dyn std::fmt::Display| {
        tracing::warn!(target: "memory", %why, "the usage summary is damaged; usage is recounted");
        Usage::default()
    };
    Ok(match read::read_small(dir, SUMMARY, MAX_SUMMARY_LEN) {
        Ok(Some(bytes)) => Usage::decode(&bytes).unwrap_or_else(|| damaged(&"bad contents")),
        Ok(None) => Usage::default(),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => damaged(&e),
        Err(e) => return Err(e),
    })
}

/// Reports a file in the usage directory that has a log's name but is not
/// one (a FIFO, a device): it is left alone.
fn skip_log(name: &str, why: &dyn std::fmt::Display) {
    tracing::warn!(target: "memory", name, %why, "not a usage log; skipped");
}

/// The log files in the usage directory.
fn log_names(dir: impl AsFd) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    fsutil::list(dir, |name, _, _| {
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
    let root = fsutil::open_root(root)?;
    let dir = match fsutil::open_dir(&root, USAGE_DIR) {
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
    let root = fsutil::open_root(root)?;
    let dir = open_or_create_dir(&root, access)?;
    let lock = rustix::fs::openat(
        &dir,
        LOCK,
        OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(access.file_mode()),
    )?;
    fsutil::lock_exclusive(&lock, true)?;
    let mut usage = read_summary(&dir)?;
    let mut present = BTreeSet::new();
    let mut finished = Vec::new();
    for name in log_names(&dir)? {
        // Read-write for the lock; without blocking, as every read of a
        // file in a cache (see `store/read.rs`).
        let flags = OFlags::RDWR | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let file = match rustix::fs::openat(&dir, name.as_str(), flags, Mode::empty()) {
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
            None => match read::open_regular(&dir, &name)? {
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
        let done = fsutil::lock_exclusive(&file, false).unwrap_or(false);
        usage.merge_log(&name, &file)?;
        present.insert(name.clone());
        if done {
            finished.push((name, file));
        }
    }
    usage.cursors.retain(|name, _| present.contains(name));
    edit(&mut usage);
    write_atomically(&dir, SUMMARY, &usage.encode(), access)?;
    for (name, _file) in finished {
        let _ = rustix::fs::unlinkat(&dir, name.as_str(), AtFlags::empty());
    }
    Ok(usage)
}

fn open_or_create_dir(root: impl AsFd, access: Access) -> io::Result<OwnedFd> {
    match fsutil::open_dir(&root, USAGE_DIR) {
        Ok(dir) => return Ok(dir),
        Err(Errno::NOENT) => {}
        Err(e) => return Err(e.into()),
    }
    let mode = Mode::from_raw_mode(access.dir_mode());
    match rustix::fs::mkdirat(&root, USAGE_DIR, mode) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(e.into()),
    }
    let dir = fsutil::open_dir(&root, USAGE_DIR)?;
    if access != Access::Owner {
        let _ = rustix::fs::fchmod(&dir, mode);
    }
    Ok(dir)
}

fn write_atomically(dir: impl AsFd, name: &str, bytes: &[u8], access: Access) -> io::Result<()> {
    let temp = format!(".{name}-{:016x}", fsutil::random_u64());
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
        fsutil::write_all(&file, bytes)?;
        rustix::fs::renameat(&dir, temp.as_str(), &dir, name)?;
        Ok::<(), io::Error>(())
    })();
    if written.is_err() {
        let _ = rustix::fs::unlinkat(&dir, temp.as_str(), AtFlags::empty());
    }
    written
}

/// Writes a log of `records` as a finished process would have left it: for
/// tests and tools that build caches.
pub(crate) fn write_log(root: &Path, records: &[Record], access: Access) -> io::Result<()> {
    let root = fsutil::open_root(root)?;
    let dir = open_or_create_dir(&root, access)?;
    let mut bytes = LOG_MAGIC.to_vec();
    for record in records {
        record.write(&mut bytes);
    }
    let name = format!("0-{:016x}{LOG_SUFFIX}", fsutil::random_u64());
    write_atomically(&dir, &name, &bytes, access)
}

/// When any process last checked the limits of the cache at `root`.
fn last_checked_ms(root: &Path) -> u64 {
    let stamp = root.join(USAGE_DIR).join(CHECKED_STAMP);
    std::fs::symlink_metadata(stamp)
        .and_then(|m| m.modified())
        .map_or(0, fsutil::millis)
}

/// Notes that the limits were just checked.
pub(crate) fn mark_checked(root: &Path, access: Access) {
    let stamp = (|| {
        let root = fsutil::open_root(root)?;
        let dir = open_or_create_dir(&root, access)?;
        write_atomically(&dir, CHECKED_STAMP, b"", access)
    })();
    if let Err(e) = stamp {
        tracing::debug!(target: "memory", %e, "cannot stamp the limit check");
    }
}

/// The per-`Memory` recorder: buffers records and appends them to this
/// process's log.
#[derive(Debug)]
pub(crate) struct Recorder {
    root: PathBuf,
    access: Access,
    /// Limits enforced automatically, if any.
    limits: Option<Limits>,
    state: Mutex<State>,
    /// Set while a background reduction runs.
    reducing: Arc<AtomicBool>,
    /// For a cache in a shared store: uploads records and announcements.
    pub(crate) remote: std::sync::OnceLock<Arc<super::remote::RemoteSync>>,
}

#[derive(Debug)]
struct State {
    buffer: Vec<u8>,
    next_flush_ms: u64,
    /// This process's log and the process that opened it (a forked child
    /// opens its own).
    log: Option<(OwnedFd, u32)>,
    /// Set after a failed write: a cache we cannot write to records nothing.
    broken: bool,
    /// Functions (directory hashes) whose `.current` was checked.
    announced: Vec<u64>,
    /// Bytes and entries written since the limits were last checked.
    written_bytes: u64,
    written_items: u64,
    checked_once: bool,
}

/// Recorders alive in this process, flushed at exit.
static LIVE: Mutex<Vec<Weak<Recorder>>> = Mutex::new(Vec::new());

extern "C" fn flush_at_exit() {
    // Never block at exit: a lock held by another thread means skipping.
    let Ok(live) = LIVE.try_lock() else { return };
    for recorder in live.iter().filter_map(Weak::upgrade) {
        if let Ok(mut state) = recorder.state.try_lock() {
            recorder.flush_locked(&mut state, fsutil::now_ms());
        }
    }
}

impl Recorder {
    /// A recorder for the cache at `root` (absolute).
    pub(crate) fn new(root: PathBuf, access: Access, limits: Option<Limits>) -> Arc<Recorder> {
        let recorder = Arc::new(Recorder {
            root,
            access,
            limits,
            state: Mutex::new(State {
                buffer: Vec::with_capacity(BUFFER_LIMIT),
                next_flush_ms: 0,
                log: None,
                broken: false,
                announced: Vec::new(),
                written_bytes: 0,
                written_items: 0,
                checked_once: false,
            }),
            reducing: Arc::new(AtomicBool::new(false)),
            remote: std::sync::OnceLock::new(),
        });
        static AT_EXIT: Once = Once::new();
        AT_EXIT.call_once(|| {
            // SAFETY: `flush_at_exit` is a plain `extern "C" fn()` that
            // never unwinds (it only takes locks without waiting and writes).
            unsafe { libc::atexit(flush_at_exit) };
        });
        let mut live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
        live.retain(|weak| weak.strong_count() > 0);
        live.push(Arc::downgrade(&recorder));
        recorder
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a hit: one clock read and a push; a write at most once a
    /// second.
    pub(crate) fn hit(&self, function: &CachedFn, key: u128) {
        let now = fsutil::now_ms();
        let derived = function.derived();
        let record = Record {
            key,
            function: dir_hash(&derived.dir),
            time_ms: now,
            kind: Kind::Hit,
            duration_us: UNKNOWN,
        };
        let mut state = self.state();
        if state.broken {
            return;
        }
        record.write(&mut state.buffer);
        let announce = state.first_sight(record.function);
        if state.buffer.len() >= BUFFER_LIMIT || now >= state.next_flush_ms {
            self.flush_locked(&mut state, now);
        }
        drop(state);
        if announce {
            self.announce(function);
        }
    }

    /// Records a miss (a computation) and writes the buffer out; `stored`
    /// says whether its output was stored. Runs the automatic limits in the
    /// background when they are due.
    pub(crate) fn miss(&self, function: &CachedFn, key: u128, duration: Duration, stored: bool) {
        let now = fsutil::now_ms();
        let derived = function.derived();
        let record = Record {
            key,
            function: dir_hash(&derived.dir),
            time_ms: now,
            kind: Kind::Miss,
            duration_us: u64::try_from(duration.as_micros()).unwrap_or(UNKNOWN - 1),
        };
        let mut state = self.state();
        let announce = !state.broken && stored && state.first_sight(record.function);
        if !state.broken {
            record.write(&mut state.buffer);
            self.flush_locked(&mut state, now);
        }
        let check = stored && self.limits_due(&mut state, now);
        drop(state);
        if announce {
            self.announce(function);
        }
        if check {
            self.reduce_in_background();
        }
    }

    /// Counts bytes of a new entry towards the automatic limits.
    pub(crate) fn written(&self, bytes: u64) {
        if self.limits.is_some() {
            let mut state = self.state();
            state.written_bytes += bytes;
            state.written_items += 1;
        }
    }

    /// Writes buffered records out now.
    pub(crate) fn flush(&self) -> io::Result<()> {
        let mut state = self.state();
        self.flush_locked(&mut state, fsutil::now_ms());
        if state.broken {
            return Err(io::Error::other(
                "usage records cannot be written to this cache",
            ));
        }
        drop(state);
        match self.remote.get() {
            Some(remote) => remote.flush(),
            None => Ok(()),
        }
    }

    fn flush_locked(&self, state: &mut State, now: u64) {
        state.next_flush_ms = now.saturating_add(FLUSH_INTERVAL_MS);
        if state.buffer.is_empty() || state.broken {
            state.buffer.clear();
            return;
        }
        if let Some(remote) = self.remote.get() {
            remote.records(&state.buffer);
        }
        let pid = std::process::id();
        // A log deleted under us (the cache was cleared) is replaced.
        let gone = |log: &OwnedFd| rustix::fs::fstat(log).is_ok_and(|stat| stat.st_nlink == 0);
        if state
            .log
            .as_ref()
            .is_none_or(|(log, owner)| *owner != pid || gone(log))
        {
            match self.open_log(pid) {
                Ok(log) => state.log = Some((log, pid)),
                Err(e) => {
                    tracing::debug!(target: "memory", %e, "cannot open a usage log; usage is not recorded");
                    state.broken = true;
                    state.buffer.clear();
                    return;
                }
            }
        }
        let (log, _) = state.log.as_ref().expect("opened above");
        if let Err(e) = fsutil::write_all(log, &state.buffer) {
            tracing::debug!(target: "memory", %e, "cannot write usage records; usage is not recorded");
            state.broken = true;
        }
        state.buffer.clear();
    }

    /// Creates this process's log: under a temporary name until it is
    /// locked and has its magic, so a compactor never takes it for a
    /// finished one.
    fn open_log(&self, pid: u32) -> io::Result<OwnedFd> {
        let root = fsutil::open_root(&self.root)?;
        let dir = open_or_create_dir(&root, self.access)?;
        let id = fsutil::random_u64();
        let temp = format!(".new-{pid}-{id:016x}");
        let mode = Mode::from_raw_mode(self.access.file_mode());
        let log = rustix::fs::openat(
            &dir,
            temp.as_str(),
            OFlags::WRONLY
                | OFlags::APPEND
                | OFlags::CREATE
                | OFlags::EXCL
                | OFlags::NOFOLLOW
                | OFlags::CLOEXEC,
            mode,
        )?;
        let ready = (|| {
            if self.access != Access::Owner {
                rustix::fs::fchmod(&log, mode)?;
            }
            fsutil::lock_exclusive(&log, false)?;
            fsutil::write_all(&log, &LOG_MAGIC)?;
            let name = format!("{pid}-{id:016x}{LOG_SUFFIX}");
            rustix::fs::renameat(&dir, temp.as_str(), &dir, name.as_str())?;
            Ok::<(), io::Error>(())
        })();
        if let Err(e) = ready {
            let _ = rustix::fs::unlinkat(&dir, temp.as_str(), AtFlags::empty());
            return Err(e);
        }
        // Every process leaves a log: fold them into the summary now and
        // then, so readers never open thousands of files.
        if log_names(&dir).is_ok_and(|names| names.len() > COMPACT_AFTER_LOGS) {
            self.compact_in_background();
        }
        Ok(log)
    }

    /// Writes `.current` for a function seen for the first time in this
    /// process: once per function, never per call.
    fn announce(&self, function: &CachedFn) {
        let derived = function.derived();
        let current = Current {
            version: derived.version.clone(),
            identity: derived.identity.clone(),
        };
        if let Err(e) = current::announce(&self.root, &derived.dir, &current, self.access)
            && !current::is_missing(&e)
        {
            tracing::debug!(target: "memory", %e, function = derived.identity, "cannot record the current code version");
        }
        if let Some(remote) = self.remote.get() {
            remote.announce(&derived.dir, &current);
        }
    }

    /// Whether the limits should be checked now: after a tenth of a limit
    /// was written by this process, or on its first write when no process
    /// checked them for a while.
    fn limits_due(&self, state: &mut State, now: u64) -> bool {
        let Some(limits) = &self.limits else {
            return false;
        };
        let tenth = |limit: u64| (limit / 10).max(1);
        let due = limits
            .bytes
            .is_some_and(|limit| state.written_bytes >= tenth(limit.0))
            || limits
                .items
                .is_some_and(|limit| state.written_items >= tenth(limit))
            || (!state.checked_once
                && now.saturating_sub(last_checked_ms(&self.root)) >= RECHECK_AFTER_MS);
        if due {
            state.written_bytes = 0;
            state.written_items = 0;
        }
        state.checked_once = true;
        due
    }

    /// Runs the automatic limits in a background thread, one at a time.
    fn reduce_in_background(&self) {
        let Some(limits) = self.limits.clone() else {
            return;
        };
        if self.reducing.swap(true, Ordering::AcqRel) {
            return;
        }
        let reducing = Arc::clone(&self.reducing);
        let root = self.root.clone();
        let access = self.access;
        // In a shared store, the limits hold there and in the local tier.
        let shared = self.remote.get().map(|remote| remote.store());
        let spawned = std::thread::Builder::new()
            .name("memo-limits".into())
            .spawn(move || {
                mark_checked(&root, access);
                let caches = shared
                    .map(super::Cache::on_store)
                    .into_iter()
                    .chain([super::Cache::at(root, access)]);
                for cache in caches {
                    if let Err(e) = cache.reduce(
                        &limits,
                        &super::ReduceOptions::default(),
                        &super::NoProgress,
                    ) {
                        tracing::warn!(target: "memory", %e, "cannot enforce the cache limits");
                    }
                }
                reducing.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            self.reducing.store(false, Ordering::Release);
        }
    }

    /// Folds the finished logs into the summary, in a background thread
    /// (unless a reduction or compaction runs already).
    fn compact_in_background(&self) {
        if self.reducing.swap(true, Ordering::AcqRel) {
            return;
        }
        let reducing = Arc::clone(&self.reducing);
        let root = self.root.clone();
        let access = self.access;
        let spawned = std::thread::Builder::new()
            .name("memo-usage".into())
            .spawn(move || {
                if let Err(e) = compact(&root, access, |_| {}) {
                    tracing::debug!(target: "memory", %e, "cannot compact the usage records");
                }
                reducing.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            self.reducing.store(false, Ordering::Release);
        }
    }

    /// Whether a background reduction is running.
    pub(crate) fn reducing(&self) -> bool {
        self.reducing.load(Ordering::Acquire)
    }
}

impl State {
    /// Whether `function` is seen for the first time by this recorder.
    fn first_sight(&mut self, function: u64) -> bool {
        if self.announced.contains(&function) {
            return false;
        }
        self.announced.push(function);
        true
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        let mut state = std::mem::replace(
            state,
            State {
                buffer: Vec::new(),
                next_flush_ms: 0,
                log: None,
                broken: true,
                announced: Vec::new(),
                written_bytes: 0,
                written_items: 0,
                checked_once: true,
            },
        );
        self.flush_locked(&mut state, fsutil::now_ms());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: u128, time_ms: u64, kind: Kind) -> Record {
        Record {
            key,
            function: 7,
            time_ms,
            kind,
            duration_us: if kind == Kind::Miss {
                2_000_000
            } else {
                UNKNOWN
            },
        }
    }

    #[test]
    fn records_round_trip() {
        let original = record(u128::MAX - 3, 1_700_000_000_000, Kind::Miss);
        let mut bytes = Vec::new();
        original.write(&mut bytes);
        assert_eq!(bytes.len(), RECORD_LEN);
        assert_eq!(Record::read(&bytes), Some(original));
        bytes[31] = 9;
        assert_eq!(Record::read(&bytes), None, "unknown kind");
    }

    #[test]
    fn merging_counts_hits_misses_and_last_use() {
        let mut usage = Usage::default();
        usage.apply(&record(1, 100, Kind::Miss));
        usage.apply(&record(1, 300, Kind::Hit));
        usage.apply(&record(1, 200, Kind::Hit));
        let entry = usage.entry(1).unwrap();
        assert_eq!((entry.hits, entry.misses), (2, 1));
        assert_eq!(entry.last_used, fsutil::time_of(300));
        assert_eq!(entry.duration, Some(Duration::from_secs(2)));
        usage.retire(1, None);
        assert_eq!(usage.entry(1), None);
        assert_eq!(
            usage.retired[&7],
            Totals {
                hits: 2,
                misses: 1,
                saved_us: 4_000_000
            }
        );
    }

    #[test]
    fn summaries_round_trip_and_reject_damage() {
        let mut usage = Usage::default();
        for key in 0..100 {
            usage.apply(&record(key, 1000 + key as u64, Kind::Miss));
        }
        usage.retire(5, None);
        usage.cursors.insert("12-ab.log".into(), 48);
        let bytes = usage.encode();
        let decoded = Usage::decode(&bytes).unwrap();
        assert_eq!(decoded.keys, usage.keys);
        assert_eq!(decoded.retired, usage.retired);
        assert_eq!(decoded.cursors, usage.cursors);
        for at in [0, 9, bytes.len() / 2, bytes.len() - 1] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 1;
            assert!(Usage::decode(&damaged).is_none(), "byte {at}");
        }
        assert!(Usage::decode(&bytes[..bytes.len() - 3]).is_none());
    }
}
