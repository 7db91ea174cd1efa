//! Walking a cache directory fast: names from `getdents`, sizes and times
//! from one `fstatat` per entry, never a read of an entry file. Listing is
//! spread over the version directories and the stat calls over fixed-size
//! chunks, on as many threads as there are cores (at most 4), so one huge
//! version directory is walked in parallel too.
//!
//! With the index of the last walk (`scan_index.rs`), a version directory
//! that did not change since is not listed, and in one that did, only the
//! entries the index does not know by (key, inode) are stat'ed.

use std::ffi::CStr;
use std::io;
use std::ops::Range;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rustix::fs::AtFlags;
use rustix::io::Errno;

use super::Progress;
use super::current::{self, Current};
use super::scan_index::{Index, IndexedVersion, Stamp};
use super::settled::Settled;
use super::usage::dir_hash;
use crate::sys::{self, KeyMap};

use crate::layout::{TEMP_PREFIX, entry_name, parse_entry_name};
/// Entries stat'ed per unit of parallel work.
const CHUNK: usize = 2048;
/// The size of an entry not stat'ed yet.
const UNSTATED: u64 = u64::MAX - 1;

/// What a walk of a cache directory found: every function directory, code
/// version directory and entry, with sizes and modification times.
#[derive(Debug, Default)]
pub struct Scan {
    pub(crate) functions: Vec<FunctionDir>,
    pub(crate) versions: Vec<VersionDir>,
    pub(crate) entries: Vec<ScannedEntry>,
    pub(crate) temps: Vec<TempFile>,
    /// When the walk started, in milliseconds since the Unix epoch.
    pub(crate) started_ms: u64,
}

/// One function directory.
#[derive(Debug)]
pub(crate) struct FunctionDir {
    pub name: String,
    /// [`dir_hash`] of `name`: how usage records name it.
    pub hash: u64,
    pub current: Option<Current>,
    /// Its code versions, as a range of [`Scan::versions`].
    pub versions: Range<usize>,
}

/// One code-version directory.
#[derive(Debug)]
pub(crate) struct VersionDir {
    pub function: usize,
    pub name: String,
    /// Its entries, as a range of [`Scan::entries`].
    pub entries: Range<usize>,
}

/// One entry file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScannedEntry {
    pub key: u128,
    /// Its inode number: entries of a version are kept in inode order.
    pub ino: u64,
    /// Its length in bytes.
    pub size: u64,
    /// Bytes allocated on disk.
    pub disk: u64,
    /// Last modification: when it was written (entries are immutable).
    pub mtime_ms: u64,
    /// Index into [`Scan::versions`].
    pub version: u32,
}

/// A named temp file left in a version directory.
#[derive(Debug, Clone)]
pub(crate) struct TempFile {
    pub version: usize,
    pub name: String,
    pub size: u64,
    pub mtime_ms: u64,
}

impl Scan {
    /// How many entries were found.
    pub fn entry_count(&self) -> u64 {
        self.entries.len() as u64
    }

    /// Their total length in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }

    /// How many function directories were found.
    pub fn function_count(&self) -> usize {
        self.functions.len()
    }

    /// The path of an entry, relative to the cache directory.
    pub(crate) fn entry_path(&self, entry: &ScannedEntry) -> String {
        let version = &self.versions[entry.version as usize];
        let function = &self.functions[version.function];
        crate::layout::entry_path(&function.name, &version.name, entry.key)
    }

    /// Charges every entry its share of the blobs it refers to (`refs`:
    /// entry index and blob digest, for the blobs `sizes` knows: length and
    /// bytes on disk): each blob split evenly between the entries that
    /// refer to it, the remainder to the first, so each blob counts once in
    /// any total (ls, du, stats, the size limit), and an entry that alone
    /// holds a blob carries all of it. The one rule of every backend.
    pub(crate) fn charge_blob_shares(
        &mut self,
        refs: Vec<(usize, u128)>,
        sizes: impl Fn(u128) -> (u64, u64),
    ) {
        let mut holders: std::collections::HashMap<u128, u64> = std::collections::HashMap::new();
        for &(_, digest) in &refs {
            *holders.entry(digest).or_default() += 1;
        }
        let mut charged = std::collections::HashSet::new();
        for (i, digest) in refs {
            let (size, disk) = sizes(digest);
            let count = holders[&digest];
            let first = charged.insert(digest);
            let share = |total: u64| total / count + if first { total % count } else { 0 };
            self.entries[i].size += share(size);
            self.entries[i].disk += share(disk);
        }
    }
}

fn name_str(name: &CStr) -> Option<&str> {
    name.to_str().ok()
}

/// How many threads to walk with.
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// Walks the cache at `root`, reusing what `previous` (the index of an
/// earlier walk) says of the version directories that did not change;
/// `settled` decides which stamps of changed ones can be trusted next time.
/// Returns the scan (sizes without blobs) and the stamps of its version
/// directories.
pub(crate) fn scan(
    root: &Path,
    progress: &dyn Progress,
    previous: Option<&Index>,
    settled: &Settled,
) -> io::Result<(Scan, Vec<Option<Stamp>>)> {
    let started_ms = settled.walk_ms();
    let root = sys::open_root(root)?;
    let mut scan = Scan {
        started_ms,
        ..Scan::default()
    };
    // Function and version directories.
    let mut candidates = Vec::new();
    sys::list(&root, |name, is_dir, _| {
        if let Some(name) = name_str(name)
            && !name.starts_with('.')
            && is_dir != Some(false)
        {
            candidates.push(name.to_owned());
        }
    })?;
    candidates.sort();
    for name in candidates {
        let dir = match sys::open_dir(&root, &name) {
            Ok(dir) => dir,
            // A file or a symlink at the top: not ours to walk.
            Err(Errno::NOTDIR | Errno::LOOP | Errno::NOENT) => continue,
            Err(e) => return Err(e.into()),
        };
        let mut versions = Vec::new();
        sys::list(&dir, |raw, is_dir, _| {
            if let Some(version) = name_str(raw)
                && !version.starts_with('.')
                && (is_dir == Some(true) || (is_dir.is_none() && sys::is_dir_at(&dir, raw)))
            {
                versions.push(version.to_owned());
            }
        })?;
        versions.sort();
        let function = scan.functions.len();
        let first = scan.versions.len();
        scan.versions
            .extend(versions.into_iter().map(|version| VersionDir {
                function,
                name: version,
                entries: 0..0,
            }));
        scan.functions.push(FunctionDir {
            hash: dir_hash(&name),
            current: current::read_at(&dir),
            name,
            versions: first..scan.versions.len(),
        });
    }
    progress.start("Scanning", None);
    let by_name = previous.map(Index::by_name).unwrap_or_default();
    let known: Vec<Option<&IndexedVersion>> = scan
        .versions
        .iter()
        .map(|v| {
            let function = scan.functions[v.function].name.as_str();
            by_name.get(&(function, v.name.as_str())).copied()
        })
        .collect();
    // Entry names, one version directory at a time on each thread.
    let listed = list_versions(&root, &scan, &known, settled)?;
    let mut temps = Vec::new();
    let mut reused_temps = Vec::new();
    let mut stamps = Vec::with_capacity(listed.len());
    for (version, (listing, stamp)) in listed.into_iter().enumerate() {
        stamps.push(stamp);
        let start = scan.entries.len();
        match (listing, known[version]) {
            (Listing::Unchanged, Some(indexed)) => {
                scan.entries
                    .extend(indexed.entries.iter().map(|e| ScannedEntry {
                        version: version as u32,
                        ..*e
                    }));
                reused_temps.extend(indexed.temps.iter().map(|t| TempFile {
                    version,
                    ..t.clone()
                }));
            }
            (Listing::Unchanged, None) => {}
            (Listing::Listed(keys, temp_names), indexed) => {
                // What the index knows of this directory, by key and inode.
                let stats: KeyMap<u128, ScannedEntry> = indexed
                    .map(|v| v.entries.iter().map(|e| (e.key, *e)).collect())
                    .unwrap_or_default();
                scan.entries.extend(keys.into_iter().map(|(key, ino)| {
                    match stats.get(&key).filter(|e| e.ino == ino) {
                        Some(known) => ScannedEntry {
                            version: version as u32,
                            ..*known
                        },
                        None => ScannedEntry {
                            key,
                            ino,
                            size: UNSTATED,
                            disk: 0,
                            mtime_ms: 0,
                            version: version as u32,
                        },
                    }
                }));
                temps.extend(temp_names.into_iter().map(|name| (version, name)));
            }
        }
        scan.versions[version].entries = start..scan.entries.len();
    }
    // Sizes and times, in chunks.
    stat_entries(&root, &mut scan, progress)?;
    let listed_temps: Vec<TempFile> = temps
        .into_iter()
        .filter_map(|(version, name)| {
            let dir = open_version(&root, &scan, version).ok()?;
            let stat = rustix::fs::statat(&dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW).ok()?;
            Some(TempFile {
                version,
                name,
                size: stat.st_size as u64,
                mtime_ms: mtime_ms(&stat),
            })
        })
        .collect();
    scan.temps = reused_temps;
    scan.temps.extend(listed_temps);
    // Drop entries that vanished while we looked (a concurrent gc).
    if scan.entries.iter().any(|e| e.size == u64::MAX) {
        let mut kept = Vec::with_capacity(scan.entries.len());
        for version in 0..scan.versions.len() {
            let range = scan.versions[version].entries.clone();
            let start = kept.len();
            kept.extend(scan.entries[range].iter().filter(|e| e.size != u64::MAX));
            scan.versions[version].entries = start..kept.len();
        }
        scan.entries = kept;
    }
    progress.finish();
    Ok((scan, stamps))
}

pub(crate) fn open_version(
    root: impl AsFd,
    scan: &Scan,
    version: usize,
) -> rustix::io::Result<OwnedFd> {
    let version = &scan.versions[version];
    sys::open_version_dir(root, &scan.functions[version.function].name, &version.name)
}

/// What a version directory holds.
enum Listing {
    /// The same as the index says (or nothing: it is gone).
    Unchanged,
    /// Entry keys and inodes, temp file names.
    Listed(Vec<(u128, u64)>, Vec<String>),
}

impl Default for Listing {
    fn default() -> Listing {
        Listing::Listed(Vec::new(), Vec::new())
    }
}

type Listed = (Listing, Option<Stamp>);

/// Lists the version directories of `scan` that changed since the index
/// (`known`, per version) was made; gives each directory's stamp.
fn list_versions(
    root: &OwnedFd,
    scan: &Scan,
    known: &[Option<&IndexedVersion>],
    settled: &Settled,
) -> io::Result<Vec<Listed>> {
    // Directories the index knows are checked here, without threads: most
    // did not change, and a check is one `open` and one `fstat`. A stamp
    // equal to a trusted one needs no new time: nothing changed since the
    // walk that trusted it.
    let mut results: Vec<Option<Listed>> = (0..scan.versions.len()).map(|_| None).collect();
    for (version, known) in known.iter().enumerate() {
        let Some(known) = known.filter(|known| known.stamp.is_some()) else {
            continue;
        };
        if let Ok(dir) = open_version(root, scan, version)
            && let Ok(stat) = rustix::fs::fstat(&dir)
            && let Some(stamp) = Stamp::read(&stat)
            && known.stamp == Some(stamp)
        {
            results[version] = Some((Listing::Unchanged, Some(stamp)));
        }
    }
    let todo: Vec<usize> = (0..scan.versions.len())
        .filter(|&v| results[v].is_none())
        .collect();
    if !todo.is_empty() {
        // Before the `fstat`s below, as the stamps they give are judged
        // against it.
        settled.take();
    }
    let next = AtomicUsize::new(0);
    let results = Mutex::new(results);
    let failure: Mutex<Option<io::Error>> = Mutex::new(None);
    std::thread::scope(|threads| {
        let workers = if todo.is_empty() {
            0
        } else {
            threads_for(todo.len())
        };
        for _ in 0..workers {
            threads.spawn(|| {
                while let Some(&version) = todo.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let listed = (|| {
                        let dir = match open_version(root, scan, version) {
                            Ok(dir) => dir,
                            Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => {
                                return Ok((Listing::default(), None));
                            }
                            Err(e) => return Err(io::Error::from(e)),
                        };
                        // Stamped before listing: a change during the
                        // listing moves it, and the next walk lists again.
                        let stamp = rustix::fs::fstat(&dir)
                            .ok()
                            .and_then(|stat| Stamp::of(&stat, settled));
                        let mut keys = Vec::new();
                        let mut temps = Vec::new();
                        sys::list(&dir, |name, is_dir, ino| {
                            let bytes = name.to_bytes();
                            if let Some(key) = parse_entry_name(bytes) {
                                if is_dir != Some(true) {
                                    keys.push((key, ino));
                                }
                            } else if bytes.starts_with(TEMP_PREFIX.as_bytes())
                                && let Some(name) = name_str(name)
                            {
                                temps.push(name.to_owned());
                            }
                        })?;
                        // Inode order: stat calls and unlinks touch the
                        // inode table in sequence, several times faster
                        // than name (hash) order on a large directory.
                        keys.sort_unstable_by_key(|&(key, ino)| (ino, key));
                        Ok((Listing::Listed(keys, temps), stamp))
                    })();
                    match listed {
                        Ok(listed) => {
                            results.lock().unwrap()[version] = Some(listed);
                        }
                        Err(e) => {
                            failure.lock().unwrap().get_or_insert(e);
                            break;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap() {
        return Err(e);
    }
    Ok(results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect())
}

fn threads_for(units: usize) -> usize {
    threads().min(units.max(1))
}

// `st_mtime_nsec` is `u64` on some targets and `i64` on others.
#[allow(clippy::unnecessary_cast)]
fn mtime_ms(stat: &rustix::fs::Stat) -> u64 {
    let secs = u64::try_from(stat.st_mtime).unwrap_or(0);
    secs * 1000 + (stat.st_mtime_nsec as u64) / 1_000_000
}

/// Stats the entries the index did not know.
fn stat_entries(root: &OwnedFd, scan: &mut Scan, progress: &dyn Progress) -> io::Result<()> {
    if !scan.entries.iter().any(|e| e.size == UNSTATED) {
        progress.advance(scan.entries.len() as u64);
        return Ok(());
    }
    let mut entries = std::mem::take(&mut scan.entries);
    let workers = threads_for(entries.len().div_ceil(CHUNK));
    let chunks = Mutex::new(entries.chunks_mut(CHUNK));
    let failure: Mutex<Option<io::Error>> = Mutex::new(None);
    let scan_ref = &*scan;
    std::thread::scope(|threads| {
        for _ in 0..workers {
            threads.spawn(|| {
                let mut open: Option<(u32, OwnedFd)> = None;
                loop {
                    let Some(chunk) = chunks.lock().unwrap().next() else {
                        break;
                    };
                    let count = chunk.len() as u64;
                    for entry in chunk.iter_mut().filter(|e| e.size == UNSTATED) {
                        if open.as_ref().is_none_or(|(v, _)| *v != entry.version) {
                            match open_version(root, scan_ref, entry.version as usize) {
                                Ok(dir) => open = Some((entry.version, dir)),
                                Err(_) => {
                                    entry.size = u64::MAX;
                                    open = None;
                                    continue;
                                }
                            }
                        }
                        let (_, dir) = open.as_ref().expect("opened above");
                        let name = entry_name(entry.key);
                        let name = name.as_cstr();
                        match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                            Ok(stat) => {
                                entry.size = stat.st_size as u64;
                                entry.disk = stat.st_blocks as u64 * 512;
                                entry.mtime_ms = mtime_ms(&stat);
                            }
                            Err(Errno::NOENT) => entry.size = u64::MAX,
                            Err(e) => {
                                failure.lock().unwrap().get_or_insert(e.into());
                                entry.size = u64::MAX;
                            }
                        }
                    }
                    progress.advance(count);
                }
            });
        }
    });
    scan.entries = entries;
    if let Some(e) = failure.into_inner().unwrap() {
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_round_trip() {
        for key in [
            0u128,
            1,
            u128::MAX,
            0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
        ] {
            let name = entry_name(key);
            assert_eq!(name.as_str(), format!("{key:032x}.memo"));
            assert_eq!(name.as_cstr().to_bytes(), name.as_str().as_bytes());
            assert_eq!(parse_entry_name(name.as_str().as_bytes()), Some(key));
        }
        assert_eq!(parse_entry_name(b"0123.memo"), None);
        assert_eq!(
            parse_entry_name(
                &[b'A'; 32]
                    .iter()
                    .chain(b".memo")
                    .copied()
                    .collect::<Vec<_>>()
            ),
            None
        );
        assert_eq!(parse_entry_name(b".tmp-0123456789abcdef.memo"), None);
    }
}
