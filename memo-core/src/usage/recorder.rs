//! The recorder a [`Memory`](crate::Memory) owns and the call path feeds:
//! hits counted per entry in memory, misses buffered, both appended to
//! this process's log (see the module docs for when).
//!
//! What happens beside the records — running the automatic limits, noting
//! `.current`, forwarding records to a shared store — is administration's:
//! the recorder triggers it through the [`Hooks`] its `Memory` gave it.

use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, PoisonError, Weak};
use std::time::Duration;

use rustix::fs::{AtFlags, Mode, OFlags};

use super::MissKind;
use super::dir_hash;
use super::files::{
    LOG_SUFFIX, compact, last_checked_ms, log_names, mark_checked, open_or_create_dir,
};
use super::hooks::{Hooks, Thresholds, Used};
use super::record::{LOG_MAGIC, Miss, RECORD_LEN, Record, UNKNOWN};
use crate::access::Access;
use crate::sys::{self, KeyMap};

/// Flush pending records at most this often from the call path.
const FLUSH_INTERVAL_MS: u64 = 1000;
/// Flush when this many entries have pending hits: memory stays bounded.
const PENDING_KEYS: usize = 1024;
/// A process checks the limits on its first write only if no process
/// checked them for this long (see [`Recorder::miss`]).
const RECHECK_AFTER_MS: u64 = 10 * 60 * 1000;
/// A process that finds more logs than this compacts them.
const COMPACT_AFTER_LOGS: usize = 256;

/// Hits of one entry since the last flush.
#[derive(Debug, Clone, Copy)]
struct PendingHits {
    function: u64,
    count: u64,
    last_ms: u64,
}

/// The per-`Memory` recorder: buffers records and appends them to this
/// process's log.
#[derive(Debug)]
pub(crate) struct Recorder {
    root: PathBuf,
    access: Access,
    /// When limits enforced automatically are due; `None` without any.
    limits: Option<Thresholds>,
    state: Mutex<State>,
    /// Set while a background reduction runs.
    reducing: Arc<AtomicBool>,
    /// Administration's side of recording (see [`Hooks`]).
    hooks: Arc<dyn Hooks>,
}

#[derive(Debug)]
struct State {
    /// Hits since the last flush, per entry key.
    hits: KeyMap<u128, PendingHits>,
    /// Records to append: misses, and the hits at a flush.
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
            recorder.flush_locked(&mut state, sys::now_ms());
        }
    }
}

impl Recorder {
    /// A recorder for the cache at `root` (absolute); `limits` says when
    /// [`Hooks::reduce`] is due.
    pub(crate) fn new(
        root: PathBuf,
        access: Access,
        limits: Option<Thresholds>,
        hooks: Arc<dyn Hooks>,
    ) -> Arc<Recorder> {
        let recorder = Arc::new(Recorder {
            root,
            access,
            limits,
            state: Mutex::new(State {
                hits: KeyMap::default(),
                buffer: Vec::with_capacity(PENDING_KEYS * RECORD_LEN),
                next_flush_ms: 0,
                log: None,
                broken: false,
                announced: Vec::new(),
                written_bytes: 0,
                written_items: 0,
                checked_once: false,
            }),
            reducing: Arc::new(AtomicBool::new(false)),
            hooks,
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

    /// Records a hit: one clock read and a count in a map (bounded by the
    /// entries touched, not the calls); a write at most once a second.
    pub(crate) fn hit(&self, function: Used<'_>, key: u128) {
        let now = sys::now_ms();
        let function_hash = dir_hash(function.dir);
        let mut state = self.state();
        if state.broken {
            return;
        }
        let pending = state.hits.entry(key).or_insert(PendingHits {
            function: function_hash,
            count: 0,
            last_ms: now,
        });
        pending.count += 1;
        pending.last_ms = now;
        let announce = state.first_sight(function_hash);
        if state.hits.len() >= PENDING_KEYS || now >= state.next_flush_ms {
            self.flush_locked(&mut state, now);
        }
        drop(state);
        if announce {
            self.announce(function);
        }
    }

    /// Records `count` hits of one entry, the last at `last_ms`, counted
    /// elsewhere first (the in-process tier counts its hits on the copy and
    /// hands them over at most once a second, see `store/in_process.rs`).
    /// `wait`: whether to wait for the buffer's lock (not at exit).
    pub(crate) fn add_hits(
        &self,
        function: Used<'_>,
        key: u128,
        count: u64,
        last_ms: u64,
        wait: bool,
    ) {
        let function_hash = dir_hash(function.dir);
        let mut state = match wait {
            true => self.state(),
            false => match self.state.try_lock() {
                Ok(state) => state,
                Err(_) => return,
            },
        };
        if state.broken || count == 0 {
            return;
        }
        let pending = state.hits.entry(key).or_insert(PendingHits {
            function: function_hash,
            count: 0,
            last_ms,
        });
        pending.count += count;
        pending.last_ms = pending.last_ms.max(last_ms);
        let announce = state.first_sight(function_hash);
        let now = sys::now_ms();
        if wait && (state.hits.len() >= PENDING_KEYS || now >= state.next_flush_ms) {
            self.flush_locked(&mut state, now);
        }
        drop(state);
        if announce && wait {
            self.announce(function);
        }
    }

    /// Records a miss (a computation) with the kind of its `reason` and
    /// writes the buffer out; `stored` says whether its output was stored.
    /// Runs the automatic limits in the background when they are due.
    pub(crate) fn miss(
        &self,
        function: Used<'_>,
        key: u128,
        duration: Duration,
        reason: MissKind,
        stored: bool,
    ) {
        let now = sys::now_ms();
        let record = Record::miss(
            key,
            dir_hash(function.dir),
            now,
            u64::try_from(duration.as_micros()).unwrap_or(UNKNOWN - 1),
            Miss { reason, stored },
        );
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
        self.flush_locked(&mut state, sys::now_ms());
        if state.broken {
            return Err(io::Error::other(
                "usage records cannot be written to this cache",
            ));
        }
        drop(state);
        self.hooks.flush()
    }

    fn flush_locked(&self, state: &mut State, now: u64) {
        state.next_flush_ms = now.saturating_add(FLUSH_INTERVAL_MS);
        // One record per entry hit since the last flush, with its count.
        for (key, pending) in state.hits.drain() {
            Record::hits(key, pending.function, pending.last_ms, pending.count)
                .write(&mut state.buffer);
        }
        if state.buffer.is_empty() || state.broken {
            state.buffer.clear();
            return;
        }
        self.hooks.records(&state.buffer);
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
        if let Err(e) = sys::write_all(log, &state.buffer) {
            tracing::debug!(target: "memory", %e, "cannot write usage records; usage is not recorded");
            state.broken = true;
        }
        state.buffer.clear();
    }

    /// Creates this process's log: under a temporary name until it is
    /// locked and has its magic, so a compactor never takes it for a
    /// finished one.
    fn open_log(&self, pid: u32) -> io::Result<OwnedFd> {
        let root = sys::open_root(&self.root)?;
        let dir = open_or_create_dir(&root, self.access)?;
        let id = sys::random_u64();
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
            sys::lock_exclusive(&log, false)?;
            sys::write_all(&log, &LOG_MAGIC)?;
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

    /// Announces a function seen for the first time in this process: once
    /// per function, never per call.
    fn announce(&self, function: Used<'_>) {
        self.hooks.announce(function);
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
            .is_some_and(|limit| state.written_bytes >= tenth(limit))
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
        if self.limits.is_none() || self.reducing.swap(true, Ordering::AcqRel) {
            return;
        }
        let reducing = Arc::clone(&self.reducing);
        let root = self.root.clone();
        let access = self.access;
        let hooks = Arc::clone(&self.hooks);
        let spawned = std::thread::Builder::new()
            .name("memo-limits".into())
            .spawn(move || {
                mark_checked(&root, access);
                hooks.reduce();
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
                hits: KeyMap::default(),
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
        self.flush_locked(&mut state, sys::now_ms());
    }
}
