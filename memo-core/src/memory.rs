//! `Memory`: a cache location and its options.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::access::Access;
use crate::array::MmapMode;
use crate::store::EntryStore;
use crate::usage::Recorder;
use upkeep::Upkeep;

mod admin;
mod shared;
mod upkeep;

/// The environment variable that sets the default cache location.
pub const CACHE_DIR_ENV: &str = "MEMO_CACHE_DIR";

/// The environment variable that sets the verbosity of [`Memory::from_env`]
/// (0 to 255), so a deployed program can be asked why it misses without
/// recompiling. A function's own `verbose = N` still wins.
pub const VERBOSE_ENV: &str = "MEMO_VERBOSE";

/// The default cache directory, relative to the working directory, when
/// [`CACHE_DIR_ENV`] is not set.
pub const DEFAULT_DIR: &str = ".memo_cache";

/// A cache context: where entries are stored and how calls behave (joblib's
/// `Memory`).
///
/// A `Memory` touches the disk only on its first cached call, so it can be
/// built in a `static`:
///
/// ```
/// use std::sync::LazyLock;
/// use memory::Memory;
///
/// static CACHE: LazyLock<Memory> =
///     LazyLock::new(|| Memory::new(std::env::temp_dir().join("memo-doc-memory")).verbose(1));
///
/// #[memory::cache(memory = CACHE)]
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// assert_eq!(square(4), 16);
/// # CACHE.clear().unwrap();
/// ```
pub struct Memory {
    location: Option<PathBuf>,
    /// `location` made absolute at first use: a relative location names
    /// one directory for the `Memory`'s life, whatever `chdir` comes later.
    resolved: Box<OnceLock<PathBuf>>,
    verbose: u8,
    pub(crate) access: Access,
    mmap_mode: Option<MmapMode>,
    compress: Option<i32>,
    /// Limits, expiry and the usage recorder.
    pub(crate) upkeep: Box<Upkeep>,
    /// A shared store, its local tier and how it is shared (see
    /// `Memory::with_store`); boxed, as few `Memory`s have one.
    pub(crate) remote: Box<crate::store::Remote>,
    /// Opened on first use; `None` when the location cannot be opened (the
    /// failure was reported and calls run uncached).
    store: OnceLock<Option<Box<dyn EntryStore>>>,
    /// Whether a failed read or write was reported already: a full or
    /// unreadable disk must not print a warning per call.
    read_failure_reported: AtomicBool,
    write_failure_reported: AtomicBool,
}

impl Memory {
    /// A cache stored in the directory `location` (created on first use).
    ///
    /// A relative location is resolved against the working directory at the
    /// first cached call.
    pub fn new(location: impl Into<PathBuf>) -> Self {
        Memory::with_location(Some(location.into()))
    }

    /// A pass-through `Memory` that caches nothing: every call runs
    /// (joblib's `location=None`).
    pub fn disabled() -> Self {
        Memory::with_location(None)
    }

    /// The default cache: `$MEMO_CACHE_DIR` if set, else `.memo_cache` in the
    /// working directory, at the verbosity `$MEMO_VERBOSE` gives (else 0).
    /// Used by cached functions without `memory = ...` unless
    /// [`set_default`] installed another.
    pub fn from_env() -> Self {
        let memory = match std::env::var_os(CACHE_DIR_ENV) {
            Some(dir) if !dir.is_empty() => Memory::new(dir),
            _ => Memory::new(DEFAULT_DIR),
        };
        memory.verbose(verbose_from_env())
    }

    fn with_location(location: Option<PathBuf>) -> Self {
        Memory {
            location,
            resolved: Box::default(),
            verbose: 0,
            access: Access::Owner,
            mmap_mode: None,
            compress: None,
            upkeep: Default::default(),
            remote: Default::default(),
            store: OnceLock::new(),
            read_failure_reported: AtomicBool::new(false),
            write_failure_reported: AtomicBool::new(false),
        }
    }

    /// A cache kept in a shared [`Store`](crate::store::Store), behind a local tier: what a
    /// cluster of workers, CI runners or a team share.
    ///
    /// Hits are served from the local tier (a cache directory on local
    /// disk, so memory maps work) when the entry is there, and fetched from
    /// `store` into it when not; new results go to both. The local tier is
    /// [`Memory::local_tier`], else `$MEMO_LOCAL_TIER`, else a directory
    /// named after the store under `$XDG_CACHE_HOME/memo/tiers` (or
    /// `~/.cache/memo/tiers`). `docs/backends.md` says what a shared store
    /// guarantees.
    ///
    /// ```
    /// use memory::Memory;
    /// use memory::store::FsStore;
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// // A directory on a network file system, say.
    /// let shared = FsStore::open(dir.path().join("shared")).unwrap();
    /// let memory = Memory::with_store(shared).local_tier(dir.path().join("tier"));
    /// ```
    ///
    /// `Memory::new("s3://bucket/prefix")` is the same with an
    /// `S3Store` configured from the environment
    /// (with the `s3` feature).
    pub fn with_store(store: impl crate::store::Store) -> Memory {
        let mut memory = Memory::new(store.location());
        memory.remote.store = Some(Arc::new(store));
        memory
    }

    /// Where the local tier of a `Memory` on a shared store goes (see
    /// [`Memory::with_store`]). It is an ordinary cache directory: `memo`
    /// inspects and trims it like any other, and deleting it loses nothing
    /// the shared store has. Ignored for a `Memory` on a directory.
    pub fn local_tier(mut self, dir: impl Into<PathBuf>) -> Memory {
        self.remote.local_tier = Some(dir.into());
        self
    }

    /// How much to print on stderr: 0 is silent; 1 traces every computed
    /// call (joblib's `[Memory] Calling ...` block); 2 also reports every
    /// load from the cache. A function's own `verbose = N` overrides it.
    pub fn verbose(mut self, level: u8) -> Self {
        self.verbose = level;
        self
    }

    /// Who may read and write the directories and files memo creates:
    /// [`Access::Owner`] (the default) or [`Access::Group`]. See [`Access`]
    /// for why sharing a cache means trusting everyone who writes to it.
    pub fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// How [`Array`](crate::Array)s in cached outputs come back: memory-mapped
    /// read-only or copy-on-write (joblib's `mmap_mode='r'` and `'c'`). The
    /// first call returns them mapped too, like every later hit. Without a
    /// mode they are read into memory and checked against their checksums.
    pub fn mmap_mode(mut self, mode: MmapMode) -> Self {
        self.mmap_mode = Some(mode);
        self
    }

    /// Compresses every stored output with zstd at `level` (1 is fast, 3 is
    /// zstd's default, up to 22; negative levels are faster still).
    ///
    /// Compression and memory maps exclude each other: a compressed array
    /// must be decompressed into memory. With both set, outputs are
    /// compressed and arrays come back in memory, not mapped; memo says so
    /// once, when the cache is first used.
    pub fn compress(mut self, level: i32) -> Self {
        self.compress = Some(level);
        self
    }

    /// Keeps entries this process used recently in memory, up to `budget`
    /// bytes (`"64M"`, `"1GiB"`, or a number): a repeated call is looked up
    /// by its key before anything touches the file system, and served in
    /// about the time its arguments take to hash (a small hit: a few
    /// hundred nanoseconds instead of a few microseconds).
    ///
    /// What is kept is the entry as stored, verified (checksum, key) once
    /// when it was kept, under its on-disk key (function, code version,
    /// arguments), so an in-process hit returns exactly what a hit from
    /// disk would: expiry and validation are checked and the output is
    /// decoded on every hit, and outputs need no `Clone`. `ignore_code`'s
    /// note, recorded dependencies handed to a caller computing around the
    /// call, the verbose trace and `tracing` apply as to a hit from disk.
    /// Arrays (see [`Array`](crate::Array)) are never copied into it: an
    /// entry holding its arrays is not kept, and arrays stored by content
    /// are mapped or read from the store on every hit.
    ///
    /// The least recently used entries go first once the budget is full
    /// (an approximate LRU: two generations of half the budget each).
    /// This `Memory`'s own [`clear`](Memory::clear),
    /// [`reduce_size`](Memory::reduce_size) and
    /// [`gc_stale`](Memory::gc_stale), a handle's `clear`, and any
    /// recomputation of an entry drop the copies they concern at once.
    /// Removals and replacements by *another* process (its `clear`, a
    /// `memo gc`), or by the automatic limits running in the background,
    /// are seen within [`in_process_recheck`](Memory::in_process_recheck)
    /// (one second by default): a copy in use checks that its file is still
    /// the one it kept that often, and is dropped if not. A changed
    /// function still misses: its code version is part of the key.
    ///
    /// Hits from memory count in the usage records (`memo stats`, the
    /// least-recently-used order of the size limits) like hits from disk:
    /// counted on the copy, they reach the records at the copy's next
    /// check, when it is dropped, at [`flush_usage`](Memory::flush_usage),
    /// or at process exit.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let memory = memory::Memory::new(dir.path()).in_process("64M");
    /// ```
    ///
    /// A budget of 0 keeps nothing (no tier).
    ///
    /// # Panics
    ///
    /// If `budget` is a string that is not a size (see
    /// [`ByteSize`](crate::manage::ByteSize)).
    pub fn in_process(mut self, budget: impl crate::manage::IntoByteSize) -> Self {
        self.upkeep.in_process = Some(budget.into_byte_size().0).filter(|&budget| budget > 0);
        self
    }

    /// How long an in-process copy may be served after another process
    /// removed or replaced its entry: a hit checks that the entry file is
    /// still the one kept (one `stat`) at most this often per copy, and
    /// drops the copy if not. Default: one second. `Duration::ZERO` checks
    /// on every hit (still no read); a long one trades that bound for
    /// fewer checks. Hits counted on a copy reach the usage records at
    /// the same check (see [`Memory::in_process`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// # let dir = tempfile::tempdir().unwrap();
    /// let memory = memory::Memory::new(dir.path())
    ///     .in_process("64M")
    ///     .in_process_recheck(Duration::from_millis(100));
    /// ```
    pub fn in_process_recheck(mut self, every: Duration) -> Self {
        self.upkeep.in_process_recheck = Some(every);
        self
    }

    /// The longest a call waits while another caller — a thread or another
    /// process — computes the same arguments, before computing them itself
    /// (and saying so, once per call that gives up). A function's own
    /// `wait_limit = ".."` overrides it.
    ///
    /// By default a call waits as long as the other caller holds the key:
    /// compute-once is what makes an expensive call run once, and a caller
    /// that dies releases the key at once (the kernel drops its lock, even
    /// on `kill -9`). Set a limit for callers that must not wait behind a
    /// computation that hangs or is stopped (`SIGSTOP`, a debugger).
    ///
    /// ```
    /// use std::time::Duration;
    /// use memory::Memory;
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// let memory = Memory::new(dir.path()).wait_limit(Duration::from_secs(600));
    /// assert_eq!(memory.wait_limit_set(), Some(Duration::from_secs(600)));
    /// ```
    pub fn wait_limit(mut self, limit: Duration) -> Self {
        self.upkeep.wait_limit = Some(limit);
        self
    }

    /// The limit set with [`Memory::wait_limit`]; `None`: wait as long as
    /// the other caller lives.
    pub fn wait_limit_set(&self) -> Option<Duration> {
        self.upkeep.wait_limit
    }

    /// The level set with [`Memory::compress`].
    pub(crate) fn zstd_level(&self) -> Option<i32> {
        self.compress
    }

    /// The mode set with [`Memory::mmap_mode`]. Whether it applies (a
    /// compressed output cannot be mapped) is `CachedFn::array_mode`'s call.
    pub(crate) fn array_mode(&self) -> Option<MmapMode> {
        self.mmap_mode
    }

    /// The cache directory, or `None` for [`Memory::disabled`].
    pub fn location(&self) -> Option<&Path> {
        self.location.as_deref()
    }

    /// The verbosity level set with [`Memory::verbose`].
    pub fn verbosity(&self) -> u8 {
        self.verbose
    }

    /// Deletes every entry of this cache and its usage records (the
    /// directory itself, its marker and `.gitignore` stay). A disabled
    /// `Memory` has nothing to clear.
    ///
    /// Only memo's own files are removed, each checked to be one; a
    /// directory that is not a memo cache is refused with
    /// [`NotACache`](crate::store::NotACache) and nothing in it is touched.
    /// A location that does not exist yet (or an empty directory) becomes
    /// an empty cache, as on the first cached call.
    pub fn clear(&self) -> io::Result<()> {
        let Some(location) = self.root() else {
            return Ok(());
        };
        crate::call::forget_known_calls();
        if crate::store::is_url(location) || self.remote.is_set() {
            // A shared store (`s3://...`): its objects and the local tier.
            return match self.store() {
                Some(store) => store.clear(),
                // Says why it cannot be opened.
                None => crate::store::open(self, location)?.clear(),
            };
        }
        self.clear_directory(location)
    }

    /// The location, resolved against the working directory once, at the
    /// first call that needs it; `None` for [`Memory::disabled`].
    pub(crate) fn root(&self) -> Option<&Path> {
        let location = self.location.as_ref()?;
        if crate::store::is_url(location) {
            return Some(location);
        }
        Some(
            self.resolved
                .get_or_init(|| std::path::absolute(location).unwrap_or_else(|_| location.clone())),
        )
    }

    /// The store, opened on first use.
    pub(crate) fn store(&self) -> Option<&dyn EntryStore> {
        self.store
            .get_or_init(|| {
                let location = self.root()?;
                if let (Some(level), Some(mode)) = (self.compress, self.mmap_mode) {
                    crate::trace::warn(format_args!(
                        "{}: outputs are compressed (zstd level {level}), so arrays come back in \
                         memory, not memory-mapped ({mode:?} is ignored)",
                        location.display()
                    ));
                }
                match crate::store::open(self, location) {
                    Ok(store) => Some(match self.upkeep.in_process {
                        Some(budget) => Box::new(crate::store::in_process::InProcess::new(
                            store,
                            budget,
                            self.upkeep.in_process_recheck,
                        )),
                        None => store,
                    }),
                    Err(e) => {
                        crate::trace::warn(format_args!(
                            "cannot open cache {}{}: {e}; calls run uncached",
                            if crate::store::is_url(location) {
                                ""
                            } else {
                                "directory "
                            },
                            location.display()
                        ));
                        None
                    }
                }
            })
            .as_deref()
    }

    /// Drops what the in-process tier keeps, if the store was opened: entries
    /// were removed by administration, not through the store.
    pub(crate) fn forget_in_process(&self) {
        if let Some(Some(store)) = self.store.get() {
            store.forget_all();
        }
    }

    /// The usage recorder, created on first use; `None` when nothing is
    /// stored.
    pub(crate) fn recorder(&self) -> Option<&Recorder> {
        self.upkeep
            .recorder
            .get_or_init(|| {
                let store = self.store()?;
                Some(upkeep::recorder(store, self.access, &self.upkeep.limits))
            })
            .as_deref()
    }

    /// Reports a failed read once per `Memory`; later ones are only traced.
    pub(crate) fn report_read_failure(&self, path: &str, error: &io::Error) {
        self.report_once(
            &self.read_failure_reported,
            path,
            error,
            "read cache entries from",
        );
    }

    /// Reports a failed write once per `Memory`; later ones are only traced.
    pub(crate) fn report_write_failure(&self, path: &str, error: &io::Error) {
        self.report_once(
            &self.write_failure_reported,
            path,
            error,
            "store results in",
        );
    }

    fn report_once(&self, reported: &AtomicBool, path: &str, error: &io::Error, action: &str) {
        if reported.swap(true, Ordering::Relaxed) {
            tracing::debug!(target: "memory", path, %error, "cannot {action} the cache");
        } else {
            crate::trace::warn(format_args!(
                "cannot {action} {}: {error}; results are still returned, computed without \
                 the cache (reported once)",
                self.location.as_deref().unwrap_or(Path::new("")).display()
            ));
        }
    }
}

impl fmt::Debug for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memory")
            .field("location", &self.location)
            .field("verbose", &self.verbose)
            .finish()
    }
}

static DEFAULT: OnceLock<Memory> = OnceLock::new();

/// Installs the process-wide default [`Memory`], used by every cached
/// function without `memory = ...`.
///
/// Call it at the start of `main`, before the first cached call. If a default
/// is already in place (set before, or already used by a cached call, which
/// fixes it to [`Memory::from_env`]), `memory` is handed back in `Err`.
///
/// ```
/// memory::set_default(memory::Memory::new(std::env::temp_dir().join("memo-doc-default"))).unwrap();
/// ```
pub fn set_default(memory: Memory) -> Result<(), Memory> {
    DEFAULT.set(memory)
}

/// The process-wide default [`Memory`] (see [`set_default`]).
pub fn default_memory() -> &'static Memory {
    DEFAULT.get_or_init(Memory::from_env)
}

/// `$MEMO_VERBOSE` as a level; unset or empty is 0, and a value that is not a
/// level is said once and ignored rather than failing the program.
fn verbose_from_env() -> u8 {
    let Some(value) = std::env::var_os(VERBOSE_ENV) else {
        return 0;
    };
    let text = value.to_string_lossy();
    let text = text.trim();
    if text.is_empty() {
        return 0;
    }
    text.parse().unwrap_or_else(|_| {
        crate::trace::warn(format_args!(
            "{VERBOSE_ENV}={text:?} is not a verbosity level (0 to 255); using 0"
        ));
        0
    })
}
