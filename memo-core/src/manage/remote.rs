//! Managing a cache in a shared [`Store`] (`s3://...`): scans from
//! listings, usage records kept in the store, removal by object.
//!
//! Object stores have no access times, so memo records use itself, as it
//! does locally: each process appends its records to its local tier's log
//! (the hit path is unchanged) and [`RemoteSync`] uploads them, at most
//! every few seconds and at exit, as immutable objects
//! `.usage/<host>-<pid>-<id>-<seq>.log` in the store. Readers merge the
//! latest summary with every log it does not hold.
//!
//! Compaction folds the logs into a new summary,
//! `.usage/summary-<sequence>`, created with `put_if_absent` (so of two
//! compactors only one commits a given sequence; the other starts over),
//! then deletes the logs it folded and the older summaries. The summary
//! names the logs it holds, so a log is never counted twice, whatever
//! crashes when. A lease object, `.usage/lock`, keeps compactors from
//! racing in the first place (it expires, so a crashed holder blocks no
//! one for long).
//!
//! `<function>/.current` objects say which code version each function's
//! programs use now, as the local files do; each process announces its
//! functions once.

use std::collections::BTreeSet;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError, Weak};
use std::time::Duration;

use super::current::Current;
use super::scan::Scan;
use super::usage::{LOG_MAGIC, RECORD_LEN, Record, Usage, log_version, merge_records};
use super::{Cache, OpenError};
use crate::store::{Put, Store};
use crate::sys;

/// The usage directory in the store.
const USAGE: &str = ".usage";
const SUMMARY_PREFIX: &str = "summary-";
const LEASE: &str = ".usage/lock";
/// How long a compaction lease is good for.
const LEASE_MS: u64 = 120_000;
/// How long to wait for another compactor's lease.
const LEASE_WAIT: Duration = Duration::from_secs(60);
/// Upload buffered records at most this often.
const UPLOAD_EVERY_MS: u64 = 5_000;
/// ... or sooner when this many bytes are buffered.
const UPLOAD_BYTES: usize = 256 * RECORD_LEN;
/// Buffered records kept while the store cannot be reached.
const MAX_PENDING: usize = 64 * 1024 * RECORD_LEN;
/// A process that uploaded this many logs looks whether to compact.
const COMPACT_CHECK_EVERY: u64 = 64;
/// Compact when the store holds more logs than this.
const COMPACT_AFTER_LOGS: usize = 256;

/// Opens the cache at the URL `path` (`s3://bucket/prefix`), refusing a
/// prefix that holds something else.
pub(crate) fn open(path: &Path) -> Result<Cache, OpenError> {
    let io_error = |source: io::Error| OpenError::Io {
        path: path.into(),
        source,
    };
    let url = path.to_str().unwrap_or_default();
    let store = crate::store::open_url(url).map_err(io_error)?;
    match store.get(crate::layout::MARKER).map_err(io_error)? {
        Some(text) if text == crate::layout::MARKER_TEXT => {}
        _ => {
            return Err(if store.list("").map_err(io_error)?.is_empty() {
                OpenError::Missing(path.into())
            } else {
                OpenError::Foreign(path.into())
            });
        }
    }
    Ok(Cache::on_store(store))
}

/// The usage objects of a store, as one listing saw them.
struct Listed {
    /// `(sequence, path)` of each summary, oldest first.
    summaries: Vec<(u64, String)>,
    /// Paths of the logs.
    logs: Vec<String>,
}

fn list_usage(store: &dyn Store) -> io::Result<Listed> {
    let mut listed = Listed {
        summaries: Vec::new(),
        logs: Vec::new(),
    };
    for object in store.list(USAGE)? {
        let Some(name) = object.path.strip_prefix(".usage/") else {
            continue;
        };
        if let Some(sequence) = name
            .strip_prefix(SUMMARY_PREFIX)
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        {
            listed.summaries.push((sequence, object.path.clone()));
        } else if name.ends_with(".log") && !name.contains('/') {
            listed.logs.push(object.path.clone());
        }
    }
    listed.summaries.sort();
    listed.logs.sort();
    Ok(listed)
}

/// Adds the records of the log object `name` (its whole bytes).
fn merge_log(usage: &mut Usage, name: &str, bytes: &[u8]) {
    if let Some(version) = log_version(bytes) {
        merge_records(usage, &bytes[LOG_MAGIC.len()..], version);
    }
    usage.cursors.insert(name.to_owned(), bytes.len() as u64);
}

/// The latest summary with every log it does not hold merged in, its
/// sequence number, and the listing it came from. Starts over if a
/// concurrent compaction deleted something on the way.
fn read_state(store: &dyn Store) -> io::Result<(u64, Usage, Listed)> {
    'attempt: for _ in 0..8 {
        let listed = list_usage(store)?;
        let (sequence, mut usage) = match listed.summaries.last() {
            None => (0, Usage::default()),
            Some((sequence, path)) => match store.get(path)? {
                None => continue 'attempt,
                Some(bytes) => (
                    *sequence,
                    Usage::decode(&bytes).unwrap_or_else(|| {
                        tracing::warn!(target: "memory", path, "the usage summary is damaged; usage is recounted");
                        Usage::default()
                    }),
                ),
            },
        };
        for log in &listed.logs {
            if usage.cursors.contains_key(log) {
                continue;
            }
            match store.get(log)? {
                Some(bytes) => merge_log(&mut usage, log, &bytes),
                None => continue 'attempt,
            }
        }
        let present: BTreeSet<&String> = listed.logs.iter().collect();
        usage.cursors.retain(|name, _| present.contains(name));
        return Ok((sequence, usage, listed));
    }
    Err(io::Error::other(
        "the usage records keep changing under us (compactions racing)",
    ))
}

/// Every usage record in the store, merged (nothing is written).
pub(crate) fn load_usage(store: &dyn Store) -> io::Result<Usage> {
    read_state(store).map(|(_, usage, _)| usage)
}

/// The compaction lease, released (deleted) on drop.
struct Lease<'a> {
    store: &'a dyn Store,
    held: bool,
}

impl<'a> Lease<'a> {
    /// Waits for the lease; takes over an expired one. Without it after
    /// [`LEASE_WAIT`], compaction goes ahead anyway: the summary's
    /// create-once sequence keeps it correct.
    fn take(store: &'a dyn Store) -> io::Result<Lease<'a>> {
        let deadline = sys::now_ms() + LEASE_WAIT.as_millis() as u64;
        loop {
            let now = sys::now_ms();
            let text = format!("{}\n", now + LEASE_MS);
            if store.put_if_absent(LEASE, &[text.as_bytes()])? == Put::Created {
                return Ok(Lease { store, held: true });
            }
            let expires = store
                .get(LEASE)?
                .and_then(|text| String::from_utf8_lossy(&text).trim().parse::<u64>().ok());
            match expires {
                // Gone meanwhile: try again now.
                None if store.get(LEASE)?.is_none() => continue,
                Some(expires) if expires >= now && now < deadline => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                // Expired, unreadable, or waited long enough.
                _ if now >= deadline => return Ok(Lease { store, held: false }),
                _ => store.delete(LEASE)?,
            }
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if self.held {
            let _ = self.store.delete(LEASE);
        }
    }
}

/// Folds every log into a new summary, letting `edit` change it first and
/// retiring the records of entries that no longer exist (older than
/// `scan`, if given); deletes what the new summary makes redundant.
pub(crate) fn compact(
    store: &dyn Store,
    scan: Option<&Scan>,
    edit: impl FnOnce(&mut Usage),
) -> io::Result<Usage> {
    let _lease = Lease::take(store)?;
    let mut edit = Some(edit);
    for _ in 0..8 {
        let (sequence, mut usage, listed) = read_state(store)?;
        // Applied once: should another compactor commit first (a lease
        // that expired under us), the gone entries below are still retired.
        if let Some(edit) = edit.take() {
            edit(&mut usage);
        }
        if let Some(scan) = scan {
            super::backend::retire_gone(&mut usage, scan);
        }
        let next = format!("{USAGE}/{SUMMARY_PREFIX}{:016x}", sequence + 1);
        if store.put_if_absent(&next, &[&usage.encode()])? == Put::Exists {
            continue;
        }
        let redundant: Vec<String> = listed
            .summaries
            .iter()
            .map(|(_, path)| path.clone())
            .chain(
                listed
                    .logs
                    .iter()
                    .filter(|log| usage.cursors.contains_key(*log))
                    .cloned(),
            )
            .collect();
        store.delete_many(&redundant);
        return Ok(usage);
    }
    Err(io::Error::other(
        "cannot commit a usage summary: compactions keep racing",
    ))
}

/// How many bytes the usage records take in the store.
pub(crate) fn usage_bytes(store: &dyn Store) -> u64 {
    store
        .list(USAGE)
        .map(|objects| objects.iter().map(|o| o.size).sum())
        .unwrap_or(0)
}

/// Uploads `records` as one log, as a finished process would have.
pub(crate) fn write_log(store: &dyn Store, records: &[Record]) -> io::Result<()> {
    let mut bytes = LOG_MAGIC.to_vec();
    for record in records {
        record.write(&mut bytes);
    }
    let name = format!("{USAGE}/0-{:016x}.log", sys::random_u64());
    store.put(&name, &[&bytes])
}

/// Uploads one process's usage records and `.current` announcements to a
/// shared store: from a background thread every few seconds, and at once
/// on [`Memory::flush_usage`](crate::Memory::flush_usage), drop and exit.
pub(crate) struct RemoteSync {
    store: Arc<dyn Store>,
    /// `<host>-<pid>-<random>`: names this process's logs.
    writer: String,
    state: Mutex<SyncState>,
    /// Held for a whole upload. An upload takes the pending records out of
    /// `state` before it puts them; without this, the exit handler could
    /// find nothing pending while the background thread's put of those
    /// records is still in flight, and the process would end with them
    /// lost. So the exit's flush waits for an upload under way.
    uploading: Mutex<()>,
}

#[derive(Default)]
struct SyncState {
    pending: Vec<u8>,
    /// When `pending` got its first record since the last upload.
    pending_since_ms: u64,
    /// Logs uploaded so far (their sequence numbers).
    uploaded: u64,
    /// Functions to announce: directory name and what `.current` says.
    announce: Vec<(String, Current)>,
}

impl std::fmt::Debug for RemoteSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSync")
            .field("store", &self.store.location())
            .field("writer", &self.writer)
            .finish()
    }
}

/// Live syncs, for the uploader thread and the exit handler.
static SYNCS: Mutex<Vec<Weak<RemoteSync>>> = Mutex::new(Vec::new());
/// Set once the process is exiting: records then go up at once.
static EXITING: AtomicBool = AtomicBool::new(false);

extern "C" fn sync_at_exit() {
    EXITING.store(true, Ordering::SeqCst);
    for sync in live_syncs() {
        let _ = sync.flush();
    }
}

fn live_syncs() -> Vec<Arc<RemoteSync>> {
    let mut syncs = SYNCS.lock().unwrap_or_else(PoisonError::into_inner);
    syncs.retain(|weak| weak.strong_count() > 0);
    syncs.iter().filter_map(Weak::upgrade).collect()
}

/// The thread that uploads what is due, twice a second.
fn uploader() {
    loop {
        std::thread::sleep(Duration::from_millis(500));
        if EXITING.load(Ordering::SeqCst) {
            return;
        }
        let now = sys::now_ms();
        for sync in live_syncs() {
            let due = {
                let state = sync.state();
                (!state.pending.is_empty()
                    && (state.pending.len() >= UPLOAD_BYTES
                        || now.saturating_sub(state.pending_since_ms) >= UPLOAD_EVERY_MS))
                    || !state.announce.is_empty()
            };
            if due && let Err(e) = sync.flush() {
                tracing::debug!(target: "memory", %e, "cannot upload usage records");
            }
        }
    }
}

impl RemoteSync {
    pub(crate) fn new(store: Arc<dyn Store>) -> Arc<RemoteSync> {
        let sync = Arc::new(RemoteSync {
            store,
            writer: format!(
                "{}-{}-{:016x}",
                sys::host_name(),
                std::process::id(),
                sys::random_u64()
            ),
            state: Mutex::new(SyncState::default()),
            uploading: Mutex::new(()),
        });
        static START: Once = Once::new();
        START.call_once(|| {
            // SAFETY: `sync_at_exit` is a plain `extern "C" fn()`; it never
            // unwinds (every error is ignored).
            unsafe { libc::atexit(sync_at_exit) };
            let _ = std::thread::Builder::new()
                .name("memo-usage-upload".into())
                .spawn(uploader);
        });
        SYNCS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::downgrade(&sync));
        sync
    }

    /// The store it uploads to.
    pub(crate) fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, SyncState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Buffers records (whole 40-byte records) for upload.
    pub(crate) fn records(&self, bytes: &[u8]) {
        {
            let mut state = self.state();
            if state.pending.is_empty() {
                state.pending_since_ms = sys::now_ms();
            }
            if state.pending.len() + bytes.len() <= MAX_PENDING {
                state.pending.extend_from_slice(bytes);
            }
        }
        if EXITING.load(Ordering::SeqCst) {
            let _ = self.flush();
        }
    }

    /// Queues `.current` of the function directory `dir`.
    pub(crate) fn announce(&self, dir: &str, current: &Current) {
        self.state()
            .announce
            .push((dir.to_owned(), current.clone()));
    }

    /// Uploads everything buffered now.
    pub(crate) fn flush(&self) -> io::Result<()> {
        let _one_at_a_time = self
            .uploading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (records, sequence, announcements) = {
            let mut state = self.state();
            let records = std::mem::take(&mut state.pending);
            let sequence = state.uploaded;
            if !records.is_empty() {
                state.uploaded += 1;
            }
            (records, sequence, std::mem::take(&mut state.announce))
        };
        let mut result = Ok(());
        for (dir, current) in announcements {
            if let Err(e) = announce(&*self.store, &dir, &current) {
                result = Err(e);
            }
        }
        if records.is_empty() {
            return result;
        }
        let name = format!("{USAGE}/{}-{sequence:08x}.log", self.writer);
        let mut log = LOG_MAGIC.to_vec();
        log.extend_from_slice(&records);
        if let Err(e) = self.store.put(&name, &[&log]) {
            // Keep them for the next attempt (bounded).
            let mut state = self.state();
            if state.pending.len() + records.len() <= MAX_PENDING {
                let newer = std::mem::replace(&mut state.pending, records);
                state.pending.extend_from_slice(&newer);
            }
            return Err(e);
        }
        if (sequence + 1).is_multiple_of(COMPACT_CHECK_EVERY) && !EXITING.load(Ordering::SeqCst) {
            self.compact_if_crowded();
        }
        result
    }

    /// Folds the logs into a summary when there are many.
    fn compact_if_crowded(&self) {
        let store = Arc::clone(&self.store);
        let _ = std::thread::Builder::new()
            .name("memo-usage".into())
            .spawn(move || {
                let crowded = list_usage(&*store).is_ok_and(|l| l.logs.len() > COMPACT_AFTER_LOGS);
                if crowded && let Err(e) = compact(&*store, None, |_| {}) {
                    tracing::debug!(target: "memory", %e, "cannot compact the usage records");
                }
            });
    }
}

impl Drop for RemoteSync {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::debug!(target: "memory", %e, "cannot upload usage records");
        }
    }
}

/// Writes `<dir>/.current` in the store unless it says so already.
fn announce(store: &dyn Store, dir: &str, current: &Current) -> io::Result<()> {
    let path = format!("{dir}/{}", crate::layout::CURRENT_FILE);
    if store
        .get(&path)?
        .and_then(|text| Current::parse(&text))
        .as_ref()
        == Some(current)
    {
        return Ok(());
    }
    store.put(&path, &[current.render().as_bytes()])
}

/// Which logs and summaries a listing found: for tests.
#[cfg(test)]
fn usage_objects(store: &dyn Store) -> (usize, usize) {
    let listed = list_usage(store).unwrap();
    (listed.summaries.len(), listed.logs.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::FsStore;

    fn record(key: u128, time_ms: u64, hit: bool) -> Record {
        Record {
            key,
            function: 7,
            time_ms,
            kind: if hit {
                super::super::usage::Kind::Hit
            } else {
                super::super::usage::Kind::Miss
            },
            duration_us: if hit { u64::MAX } else { 1000 },
            count: 1,
            miss: super::super::usage::Miss::default(),
        }
    }

    #[test]
    fn logs_fold_into_summaries_without_counting_twice() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        write_log(&store, &[record(1, 10, false), record(1, 20, true)]).unwrap();
        write_log(&store, &[record(2, 30, false)]).unwrap();
        let loaded = load_usage(&store).unwrap();
        assert_eq!(loaded.entry(1).unwrap().hits, 1);
        compact(&store, None, |_| {}).unwrap();
        assert_eq!(usage_objects(&store), (1, 0));
        write_log(&store, &[record(1, 40, true)]).unwrap();
        compact(&store, None, |_| {}).unwrap();
        let after = load_usage(&store).unwrap();
        assert_eq!(after.entry(1).unwrap().hits, 2);
        assert_eq!(after.entry(2).unwrap().misses, 1);
        assert_eq!(usage_objects(&store), (1, 0));
        assert!(store.get(LEASE).unwrap().is_none(), "the lease is released");
    }

    #[test]
    fn an_expired_lease_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        store.put(LEASE, &[b"1\n"]).unwrap();
        compact(&store, None, |_| {}).unwrap();
        assert!(store.get(LEASE).unwrap().is_none());
    }

    #[test]
    fn announcements_are_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        let current = Current {
            version: "0123456789abcdef".into(),
            identity: "c::f".into(),
        };
        announce(&store, "c.f", &current).unwrap();
        let written = std::fs::metadata(dir.path().join("c.f/.current"))
            .unwrap()
            .modified()
            .unwrap();
        announce(&store, "c.f", &current).unwrap();
        let again = std::fs::metadata(dir.path().join("c.f/.current"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(written, again);
    }
}
