//! `Cache`: a cache directory opened for inspection and management.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::Progress;
use super::backend::Backend;
use super::on_dir::OnDir;
use super::on_store::OnStore;
use super::reduce::{Tally, current_versions, last_use_ms};
use super::scan::{Scan, ScannedEntry};
use super::usage::{self, EntryUsage, Usage, dir_hash};
use crate::access::Access;
use crate::entry::{Entry, EntryMeta};
use crate::store::Store;
use crate::sys;

/// A cache directory, opened for inspection and management: what the
/// `memo` binary works on.
///
/// ```
/// use memory::manage::{Cache, NoProgress};
///
/// # let dir = tempfile::tempdir().unwrap();
/// # let location = dir.path();
/// # memory::Memory::new(location).clear().unwrap(); // creates the directory
/// let cache = Cache::open(location).unwrap();
/// let scan = cache.scan(&NoProgress).unwrap();
/// for function in cache.functions(&scan, &cache.usage().unwrap()) {
///     println!("{}: {} entries, {} hits", function.identity, function.entries, function.hits);
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Cache {
    /// Where it is, as the user named it: a directory, or a store's URL.
    root: PathBuf,
    pub(crate) now: Option<SystemTime>,
    /// A directory or a shared store: everything below is written once
    /// over it.
    backend: Arc<dyn Backend>,
}

/// One usage record, for [`Cache::write_usage`]. Not a stable API.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct UsageRecord {
    /// The entry's key.
    pub key: u128,
    /// Its function's directory name.
    pub function_dir: String,
    /// When it was used.
    pub time: SystemTime,
    /// A hit (served) or a miss (computed).
    pub hit: bool,
    /// For a miss: how long it ran.
    pub duration: Option<Duration>,
    /// For a miss: the kind of its reason.
    pub reason: usage::MissKind,
    /// For a miss: whether its result was stored.
    pub stored: bool,
}

/// Why a directory cannot be opened as a cache.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Nothing is there.
    #[error("{} does not exist", .0.display())]
    Missing(PathBuf),
    /// Something that is not a directory is there.
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// A directory memo did not create: it is never touched.
    #[error(
        "{} is not a memo cache: memo never touches a directory it did not create",
        .0.display()
    )]
    Foreign(PathBuf),
    /// It cannot be read.
    #[error("cannot open {}: {source}", .path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The failure.
        #[source]
        source: io::Error,
    },
}

/// Why a function or an entry named on the command line was not found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FindError {
    /// Nothing matches.
    #[error("no {what} matches {name:?}")]
    NotFound {
        /// "function" or "entry".
        what: &'static str,
        /// What was asked for.
        name: String,
    },
    /// Several match.
    #[error("{name:?} matches several {}: {}", plural(what), .candidates.join(", "))]
    Ambiguous {
        /// "function" or "entry".
        what: &'static str,
        /// What was asked for.
        name: String,
        /// What it matches.
        candidates: Vec<String>,
    },
}

fn plural(what: &str) -> &str {
    match what {
        "entry" => "entries",
        _ => "functions",
    }
}

/// One entry of a function, as `memo show FUNC` lists it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EntryRow {
    /// The entry's key.
    pub key: u128,
    /// Its code version.
    pub version: String,
    /// The call as written, if its metadata could be read.
    pub call: Option<String>,
    /// Its length in bytes.
    pub size: u64,
    /// When it was computed (its metadata, else its file's time).
    pub created: SystemTime,
    /// When it was last used.
    pub last_used: SystemTime,
    /// How often it was served.
    pub hits: u64,
    /// How long it took to compute, if known.
    pub duration: Option<Duration>,
}

/// Everything known about one entry, as `memo show FUNC ENTRY` shows it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EntryDetails {
    /// The entry's key.
    pub key: u128,
    /// Its path relative to the cache directory.
    pub path: String,
    /// Its function's directory.
    pub function_dir: String,
    /// Its code version directory.
    pub version: String,
    /// Whether that is the function's current version.
    pub current: bool,
    /// Its length in bytes.
    pub size: u64,
    /// Its decoded metadata, unless the entry is damaged.
    pub meta: Option<EntryMeta>,
    /// Bytes of metadata and of output.
    pub meta_len: u64,
    /// Bytes of the encoded output.
    pub output_len: u64,
    /// Why the entry is unusable, if it is.
    pub problem: Option<String>,
    /// When its file was written.
    pub written: SystemTime,
    /// Its recorded use.
    pub usage: Option<EntryUsage>,
}

/// One damaged entry found by [`Cache::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Problem {
    /// Its path relative to the cache directory.
    pub path: String,
    /// What is wrong.
    pub problem: String,
    /// Its length in bytes.
    pub size: u64,
    /// Whether it was removed.
    pub removed: bool,
}

/// What [`Cache::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// Entries checked.
    pub checked: Tally,
    /// The damaged ones.
    pub problems: Vec<Problem>,
}

/// What [`Cache::clear`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cleared {
    /// Entries removed.
    pub removed: Tally,
    /// Function directories removed.
    pub functions: Vec<String>,
    /// Entries that could not be removed (a read-only cache).
    pub failed: u64,
    /// Files and directories left because they are not memo's (a user's
    /// files inside the cache directory): memo never removes those.
    pub kept: u64,
}

impl Cache {
    /// Opens the cache directory at `path`, refusing anything that is not
    /// one: a missing path, a file, or a directory memo did not create.
    pub fn open(path: impl AsRef<Path>) -> Result<Cache, OpenError> {
        let path = path.as_ref();
        if crate::store::is_url(path) {
            return super::remote::open(path);
        }
        let root = std::path::absolute(path).map_err(|e| OpenError::Io {
            path: path.into(),
            source: e,
        })?;
        let metadata = match std::fs::metadata(&root) {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(OpenError::Missing(path.into()));
            }
            Err(e) => {
                return Err(OpenError::Io {
                    path: path.into(),
                    source: e,
                });
            }
        };
        if !metadata.is_dir() {
            return Err(OpenError::NotADirectory(path.into()));
        }
        // Keep the sharing the cache was created with.
        let access = if metadata.permissions().mode() & 0o070 != 0 {
            Access::Group
        } else {
            Access::Owner
        };
        match crate::store::claim::verify(&root, access) {
            Ok(_) => {}
            Err(e) if crate::store::claim::is_not_a_cache(&e) => {
                return Err(OpenError::Foreign(path.into()));
            }
            Err(e) => {
                return Err(OpenError::Io {
                    path: path.into(),
                    source: e,
                });
            }
        }
        Ok(Cache::at(root, access))
    }

    /// A `Memory`'s own cache directory (checked again before anything is
    /// removed from it).
    pub(crate) fn at(root: PathBuf, access: Access) -> Cache {
        Cache {
            root: root.clone(),
            now: None,
            backend: Arc::new(OnDir { root, access }),
        }
    }

    /// A cache in the shared store `store` (trusted: no marker check).
    pub(crate) fn on_store(store: Arc<dyn Store>) -> Cache {
        Cache {
            root: PathBuf::from(store.location()),
            now: None,
            backend: Arc::new(OnStore { store }),
        }
    }

    pub(crate) fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    /// Removes a shared store's expired compute-once leases, as part of a
    /// clear or a gc; a failure only costs a later attempt.
    pub(crate) fn remove_stale_leases(&self) {
        match self.backend.remove_stale_leases() {
            Ok(0) => {}
            Ok(n) => tracing::debug!(target: "memory", removed = n, "removed expired leases"),
            Err(e) => tracing::debug!(target: "memory", %e, "cannot remove expired leases"),
        }
    }

    /// Measures ages from `now` instead of the clock (for reproducible
    /// output and tests).
    pub fn with_now(mut self, now: SystemTime) -> Cache {
        self.now = Some(now);
        self
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Walks the cache: every function, code version and entry, with sizes
    /// and times (no entry file is read).
    pub fn scan(&self, progress: &dyn Progress) -> io::Result<Scan> {
        self.backend.scan(progress)
    }

    /// Every usage record, merged (nothing is written).
    pub fn usage(&self) -> io::Result<Usage> {
        self.backend.usage()
    }

    /// Reads a whole entry file.
    pub(crate) fn read_entry(&self, scan: &Scan, entry: &ScannedEntry) -> io::Result<Vec<u8>> {
        self.backend.read_entry(scan, entry)
    }

    /// The metadata of a stored entry; `None` if it is gone or damaged.
    pub(crate) fn entry_meta(&self, scan: &Scan, entry: &ScannedEntry) -> Option<EntryMeta> {
        let bytes = self.read_entry(scan, entry).ok()?;
        Entry::parse(&bytes, Some(entry.key)).ok()?.meta().ok()
    }

    /// The identity of the function at index `function` of `scan` (from
    /// `.current`, else an entry's metadata, else its directory name).
    pub fn identity(&self, scan: &Scan, function: usize) -> String {
        self.identity_of(scan, function)
    }

    /// The directory name of the function at index `function` of `scan`.
    pub fn function_dir<'s>(&self, scan: &'s Scan, function: usize) -> &'s str {
        &scan.functions[function].name
    }

    /// How many entries, and bytes, a function has (every function with
    /// `None`).
    pub fn function_totals(&self, scan: &Scan, function: Option<usize>) -> (u64, u64) {
        let functions = match function {
            Some(f) => f..f + 1,
            None => 0..scan.functions.len(),
        };
        let mut tally = Tally::default();
        for f in functions {
            for v in scan.functions[f].versions.clone() {
                for e in &scan.entries[scan.versions[v].entries.clone()] {
                    tally.add(e.size);
                }
            }
        }
        (tally.entries, tally.bytes)
    }

    /// The function of `scan` that `name` names: its directory name, its
    /// identity, or the last parts of its identity (`f`, `module::f`) when
    /// only one function matches.
    pub fn find_function(&self, scan: &Scan, name: &str) -> Result<usize, FindError> {
        let identities: Vec<String> = (0..scan.functions.len())
            .map(|f| self.identity_of(scan, f))
            .collect();
        let exact: Vec<usize> = (0..scan.functions.len())
            .filter(|&f| scan.functions[f].name == name || identities[f] == name)
            .collect();
        let matches = if exact.is_empty() {
            let suffix = format!("::{name}");
            (0..scan.functions.len())
                .filter(|&f| identities[f].ends_with(&suffix))
                .collect()
        } else {
            exact
        };
        match matches.as_slice() {
            [one] => Ok(*one),
            [] => Err(FindError::NotFound {
                what: "function",
                name: name.to_owned(),
            }),
            several => Err(FindError::Ambiguous {
                what: "function",
                name: name.to_owned(),
                candidates: several.iter().map(|&f| identities[f].clone()).collect(),
            }),
        }
    }

    /// A function's entries, most recently used first, at most `limit` of
    /// them (the metadata of each listed one is read, for its call).
    pub fn entries(
        &self,
        scan: &Scan,
        usage: &Usage,
        function: usize,
        limit: usize,
    ) -> Vec<EntryRow> {
        let mut indices: Vec<usize> = scan.functions[function]
            .versions
            .clone()
            .flat_map(|v| scan.versions[v].entries.clone())
            .collect();
        indices.sort_by_key(|&i| {
            let e = &scan.entries[i];
            (std::cmp::Reverse(last_use_ms(usage, e)), e.key)
        });
        indices
            .into_iter()
            .take(limit)
            .map(|i| {
                let entry = &scan.entries[i];
                let meta = self.entry_meta(scan, entry);
                let recorded = usage.entry(entry.key);
                EntryRow {
                    key: entry.key,
                    version: scan.versions[entry.version as usize].name.clone(),
                    call: meta.as_ref().map(|m| m.call.clone()),
                    size: entry.size,
                    created: meta
                        .as_ref()
                        .map_or(sys::time_of(entry.mtime_ms), |m| sys::time_of(m.created_ms)),
                    last_used: sys::time_of(last_use_ms(usage, entry)),
                    hits: recorded.map_or(0, |r| r.hits),
                    duration: meta
                        .as_ref()
                        .and_then(|m| Duration::try_from_secs_f64(m.duration_s).ok())
                        .or_else(|| recorded.and_then(|r| r.duration)),
                }
            })
            .collect()
    }

    /// The entry of `function` whose key starts with the hex digits
    /// `prefix`.
    pub fn find_entry(
        &self,
        scan: &Scan,
        function: usize,
        prefix: &str,
    ) -> Result<usize, FindError> {
        let prefix = prefix.trim_end_matches(".memo").to_ascii_lowercase();
        let not_found = || FindError::NotFound {
            what: "entry",
            name: prefix.clone(),
        };
        if prefix.is_empty() || prefix.len() > 32 || !prefix.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(not_found());
        }
        let matches: Vec<usize> = scan.functions[function]
            .versions
            .clone()
            .flat_map(|v| scan.versions[v].entries.clone())
            .filter(|&i| format!("{:032x}", scan.entries[i].key).starts_with(&prefix))
            .collect();
        match matches.as_slice() {
            [one] => Ok(*one),
            [] => Err(not_found()),
            several => Err(FindError::Ambiguous {
                what: "entry",
                name: prefix.clone(),
                candidates: several
                    .iter()
                    .take(10)
                    .map(|&i| format!("{:032x}", scan.entries[i].key))
                    .collect(),
            }),
        }
    }

    /// Everything known about the entry at index `entry` of `scan`.
    pub fn entry_details(&self, scan: &Scan, usage: &Usage, entry: usize) -> EntryDetails {
        let scanned = &scan.entries[entry];
        let version = &scan.versions[scanned.version as usize];
        let function = &scan.functions[version.function];
        let currents = current_versions(scan, usage);
        let (meta, meta_len, output_len, problem) = match self.read_entry(scan, scanned) {
            Ok(bytes) => match Entry::parse(&bytes, Some(scanned.key)) {
                Ok(parsed) => match parsed.meta() {
                    Ok(meta) => {
                        let meta_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap());
                        (
                            Some(meta),
                            meta_len.into(),
                            parsed.output_len() as u64,
                            None,
                        )
                    }
                    Err(e) => (None, 0, 0, Some(e.to_string())),
                },
                Err(e) => (None, 0, 0, Some(e.to_string())),
            },
            Err(e) => (None, 0, 0, Some(format!("cannot read it: {e}"))),
        };
        EntryDetails {
            key: scanned.key,
            path: scan.entry_path(scanned),
            function_dir: function.name.clone(),
            version: version.name.clone(),
            current: currents[version.function] == Some(scanned.version as usize),
            size: scanned.size,
            meta,
            meta_len,
            output_len,
            problem,
            written: sys::time_of(scanned.mtime_ms),
            usage: usage.entry(scanned.key),
        }
    }

    /// How many bytes the usage records take.
    pub fn usage_bytes(&self) -> u64 {
        self.backend.usage_bytes()
    }

    /// Leftover temp files in the scan: how many, and their bytes.
    pub fn temp_files(&self, scan: &Scan) -> Tally {
        let mut tally = Tally::default();
        for temp in &scan.temps {
            tally.entries += 1;
            tally.bytes += temp.size;
        }
        tally
    }

    /// Appends usage records, as a finished process would have left them:
    /// for tests and tools that build or migrate caches. Not a stable API.
    #[doc(hidden)]
    pub fn write_usage(&self, records: &[UsageRecord]) -> io::Result<()> {
        let records: Vec<usage::Record> = records
            .iter()
            .map(|r| usage::Record {
                key: r.key,
                function: dir_hash(&r.function_dir),
                time_ms: sys::millis(r.time),
                kind: if r.hit {
                    usage::Kind::Hit
                } else {
                    usage::Kind::Miss
                },
                duration_us: r.duration.map_or(u64::MAX, |d| {
                    u64::try_from(d.as_micros()).unwrap_or(u64::MAX - 1)
                }),
                count: 1,
                miss: usage::Miss {
                    reason: r.reason,
                    stored: r.stored,
                },
            })
            .collect();
        self.backend.write_log(&records)
    }

    /// The hash usage records use for the function directory `dir`.
    #[doc(hidden)]
    pub fn function_hash(dir: &str) -> u64 {
        dir_hash(dir)
    }
}
