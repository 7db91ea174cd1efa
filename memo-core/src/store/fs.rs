//! The local filesystem store.
//!
//! A hit is the floor of what a file per entry allows: one `openat2`
//! relative to the cache directory (no walk of the absolute path, no symlink
//! followed), one `read`, `close`. A new entry is written to an anonymous
//! `O_TMPFILE` inode in its directory and linked into place once complete,
//! so readers never see a partial entry and a crash leaves nothing behind;
//! replacing an existing entry (a stale or corrupt one) writes a named temp
//! file and renames it over. Every directory is opened below the cache
//! directory without following symlinks (see `beneath.rs`).
//!
//! The same directory is also a [`Store`] (the public, object-shaped
//! trait): a directory on a network file system can be the shared store
//! behind a local tier, like a bucket.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use super::create::{Outcome, link_fd};
use super::object::{ObjectMeta, Put, Store, invalid_path, valid_path};
use super::{EntryStore, KeyGuard, StoredEntry, beneath, lock, read};
use crate::access::Access;
use crate::entry;
use crate::hash::Digest;
use crate::layout;
use crate::sys::{random_u64, write_all};

/// Entries up to this size are read with a single `read` call.
const SMALL_ENTRY: usize = 16 * 1024;

/// A cache directory on a file system: memo's default store.
///
/// [`Memory::new`](crate::Memory::new) with a directory uses one directly,
/// with no tier: a hit is one `openat2`, one `read` and one `close`. As a
/// [`Store`] it can also be the shared store behind a local tier, e.g. a
/// directory on a network file system that a cluster mounts:
///
/// ```
/// use memory::Memory;
/// use memory::store::FsStore;
///
/// # let dir = tempfile::tempdir().unwrap();
/// # let shared_dir = dir.path().join("shared");
/// # let local_dir = dir.path().join("local");
/// let shared = FsStore::open(&shared_dir).unwrap();
/// let memory = Memory::with_store(shared).local_tier(&local_dir);
/// ```
///
/// `put_if_absent` is atomic here (`linkat` of a complete file fails if
/// the name exists), on local file systems and on NFS alike.
#[derive(Debug)]
pub struct FsStore {
    root: PathBuf,
    /// The cache directory, opened once: entries are opened relative to it.
    root_dir: OwnedFd,
    access: Access,
}

impl FsStore {
    /// Opens (creating if needed) the cache directory at `dir`, private to
    /// its owner (see [`Access`]).
    ///
    /// A directory that exists but cannot be written to still opens: hits
    /// are served from it, and writes fail one by one.
    pub fn open(dir: impl AsRef<Path>) -> io::Result<FsStore> {
        FsStore::open_with(dir.as_ref(), Access::Owner)
    }

    /// [`FsStore::open`] with the given sharing.
    pub fn open_shared(dir: impl AsRef<Path>, access: Access) -> io::Result<FsStore> {
        FsStore::open_with(dir.as_ref(), access)
    }

    /// The directory, absolute.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Opens (creating if needed) the cache directory at `root`; refuses a
    /// directory that is not a memo cache ([`NotACache`](super::NotACache)).
    pub(crate) fn open_with(root: &Path, access: Access) -> io::Result<FsStore> {
        let root = std::path::absolute(root)?;
        let root_dir = super::claim::claim(&root, access)?;
        Ok(FsStore {
            root,
            root_dir,
            access,
        })
    }

    /// The cache directory, open.
    pub(super) fn root_dir(&self) -> &OwnedFd {
        &self.root_dir
    }

    /// Directories are created with this mode.
    pub(super) fn dir_mode(&self) -> u32 {
        self.access.dir_mode()
    }

    pub(super) fn file_mode(&self) -> Mode {
        Mode::from_raw_mode(self.access.file_mode())
    }

    /// Sets a new file's mode exactly. Only group access needs it: the
    /// umask can only take bits away, and owner-only has none to take.
    pub(super) fn exact_mode(&self, file: &OwnedFd) -> io::Result<()> {
        if self.access != Access::Owner {
            rustix::fs::fchmod(file, self.file_mode())?;
        }
        Ok(())
    }

    /// Writes `bytes` to an anonymous file in `dir` and links it as `name`.
    /// `Ok(false)`: not possible here (no `O_TMPFILE` support, or `name`
    /// exists already); the caller falls back to a named temp file.
    fn link_new(&self, dir: &OwnedFd, name: &str, parts: &[&[u8]]) -> io::Result<bool> {
        let flags = OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC;
        let file = match rustix::fs::openat(dir, ".", flags, self.file_mode()) {
            Ok(file) => file,
            // The file system has no anonymous files.
            Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        self.exact_mode(&file)?;
        write_parts(&file, parts)?;
        match link_fd(&file, dir, name) {
            Ok(()) => Ok(true),
            // Another writer got there first, or a stale entry is in place:
            // both are replaced by rename.
            Err(Errno::EXIST) => Ok(false),
            // No /proc: fall back too.
            Err(Errno::NOENT) if !Path::new("/proc/self/fd").exists() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes `bytes` to a named temp file in `dir` and renames it over
    /// `name`; the temp file is removed if anything fails.
    fn replace(&self, dir: &OwnedFd, name: &str, parts: &[&[u8]]) -> io::Result<()> {
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let (temp_name, file) = loop {
            let temp_name = layout::temp_name(random_u64());
            match rustix::fs::openat(dir, temp_name.as_str(), flags, self.file_mode()) {
                Ok(file) => break (temp_name, file),
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let written = self
            .exact_mode(&file)
            .and_then(|()| write_parts(&file, parts))
            .and_then(|()| Ok(rustix::fs::renameat(dir, temp_name.as_str(), dir, name)?));
        if written.is_err() {
            let _ = rustix::fs::unlinkat(dir, temp_name.as_str(), AtFlags::empty());
        }
        written
    }
}

/// Runs a write again when its directory vanished under it. A gc removes
/// a code-version directory once it is empty, and may do so between a
/// writer creating that directory and linking its entry in: the link then
/// fails with `ENOENT`. Creating the directory again is the whole remedy,
/// and a concurrent gc is normal on a shared cache, so it is no failure.
fn retry_if_dir_vanished<T>(mut write: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    // A clear walking the same function can remove the directory again as
    // soon as it is recreated; backing off lets it finish (a clear takes
    // milliseconds), so the write lands after it.
    const ATTEMPTS: u32 = 24;
    for attempt in 1..ATTEMPTS {
        match write() {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                let pause = std::time::Duration::from_micros(1 << attempt.min(14));
                std::thread::sleep(pause);
            }
            done => return done,
        }
    }
    write()
}

/// A failure in a directory that was removed meanwhile (its link count is
/// 0: the kernel then answers `O_TMPFILE` with `EPERM`, a link with
/// `ENOENT`) becomes `ENOENT`, which [`retry_if_dir_vanished`] retries.
fn vanished_as_missing(dir: &OwnedFd, error: io::Error) -> io::Error {
    match rustix::fs::fstat(dir) {
        Ok(stat) if stat.st_nlink == 0 => io::Error::from_raw_os_error(libc::ENOENT),
        _ => error,
    }
}

fn write_parts(file: &OwnedFd, parts: &[&[u8]]) -> io::Result<()> {
    parts.iter().try_for_each(|part| write_all(file, part))
}

/// Reads an entry file: all of a small one, with one `read` into a reused
/// per-thread buffer and one exact-size copy. Of a large one, `fstat` for
/// its length and reads up to the end of its output as its header
/// announces, leaving its arrays in the file.
///
/// No `fstat` for a small entry, and none is needed: the file was opened
/// without blocking, so a FIFO reads as empty or fails (`EAGAIN`) instead
/// of waiting, and whatever a short read returned is parsed like any entry
/// (every length and the checksum checked). A read that fills the buffer
/// may be a device or a FIFO with a writer: that is what the `fstat` of a
/// large entry refuses. Nothing is read past what the header announces and
/// the file holds, a damaged header stops the read at the first buffer, and
/// memory is reserved fallibly: a damaged or hostile entry is an error or a
/// failed parse (recomputed and replaced), never a hang or an abort.
pub(super) fn read_entry(file: OwnedFd) -> io::Result<StoredEntry> {
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(SMALL_ENTRY));
    }
    let first = BUFFER.with(|buffer| {
        let mut buffer = buffer.try_borrow_mut().ok()?;
        buffer.clear();
        Some(read::read_once(&file, &mut buffer).map(|_| buffer.clone()))
    });
    let mut bytes = match first {
        Some(read) => read?,
        None => {
            let mut bytes = Vec::with_capacity(SMALL_ENTRY);
            read::read_once(&file, &mut bytes)?;
            bytes
        }
    };
    let len = if bytes.len() < SMALL_ENTRY {
        bytes.len() as u64
    } else {
        let len = read::regular_len(&file)?;
        let wanted = entry::head_len(&bytes).map_or(bytes.len() as u64, |head| head.min(len));
        let more = wanted.saturating_sub(bytes.len() as u64);
        read::reserve(&mut bytes, more)?;
        read::read_up_to(&file, &mut bytes, wanted)?;
        len
    };
    Ok(StoredEntry {
        bytes,
        len,
        file: Some(std::fs::File::from(file)),
    })
}

impl FsStore {
    /// The directory of `path` (created if missing when `create`), opened
    /// below the root without following symlinks, and the last component.
    fn parent<'p>(&self, path: &'p str, create: bool) -> io::Result<(OwnedFd, &'p str)> {
        let (dir, name) = match path.rsplit_once('/') {
            Some((dir, name)) => (Some(dir), name),
            None => (None, path),
        };
        let dir = match dir {
            None => rustix::fs::openat(
                &self.root_dir,
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?,
            Some(dir) if create => {
                beneath::create_dirs(&self.root_dir, dir, self.access.dir_mode())?
            }
            Some(dir) => beneath::open(
                &self.root_dir,
                dir,
                OFlags::RDONLY | OFlags::DIRECTORY,
                Mode::empty(),
            )?,
        };
        Ok((dir, name))
    }

    /// Creates `path` from what `fill` writes into a new file, unless
    /// something is there already; a `fill` that returns `false` creates
    /// nothing. The file appears whole or not at all: it is written
    /// anonymously (or under a temp name) and linked into place, and a link
    /// never replaces an existing name.
    pub(crate) fn create(
        &self,
        path: &str,
        fill: &mut dyn FnMut(&OwnedFd) -> io::Result<bool>,
    ) -> io::Result<Outcome> {
        retry_if_dir_vanished(|| self.create_once(path, fill))
    }

    /// [`FsStore::create`], once.
    fn create_once(
        &self,
        path: &str,
        fill: &mut dyn FnMut(&OwnedFd) -> io::Result<bool>,
    ) -> io::Result<Outcome> {
        let (dir, name) = self.parent(path, true)?;
        let fill = &mut |file: &OwnedFd| Ok(fill(file)?.then(|| name.to_owned()));
        let temp_name = layout::temp_name;
        self.create_named(&dir, temp_name, fill)
            .map_err(|e| vanished_as_missing(&dir, e))
    }

    /// Removes the file at `path`; nothing there is fine.
    pub(super) fn unlink(&self, path: &str) -> io::Result<()> {
        let (dir, name) = match self.parent(path, false) {
            Ok(found) => found,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        match rustix::fs::unlinkat(&dir, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens the regular file at `path` for reading, with its length;
    /// `None` if there is none (see `read.rs`).
    fn open_file(&self, path: &str) -> io::Result<Option<(OwnedFd, u64)>> {
        read::open_regular(&self.root_dir, path)
    }
}

/// Writes to a borrowed descriptor.
pub(crate) struct FdWriter<'a>(pub &'a OwnedFd);

impl io::Write for FdWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        loop {
            match rustix::io::write(self.0, bytes) {
                Err(Errno::INTR) => {}
                other => return Ok(other?),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl EntryStore for FsStore {
    fn read(&self, path: &str) -> io::Result<Option<StoredEntry>> {
        match read::open_nonblocking(&self.root_dir, path)? {
            Some(file) => read_entry(file).map(Some),
            // A missing directory on the way means no entry either.
            None => Ok(None),
        }
    }

    fn write(&self, path: &str, parts: &[&[u8]]) -> io::Result<()> {
        retry_if_dir_vanished(|| {
            let (dir, name) = self.parent(path, true)?;
            let written = match self.link_new(&dir, name, parts) {
                Ok(true) => Ok(()),
                Ok(false) => self.replace(&dir, name, parts),
                Err(e) => Err(e),
            };
            written.map_err(|e| vanished_as_missing(&dir, e))
        })
    }

    fn lock(&self, key: Digest) -> io::Result<KeyGuard> {
        Ok(KeyGuard(Box::new(lock::lock(
            &self.root_dir,
            key,
            self.file_mode(),
        )?)))
    }

    fn lock_within(&self, key: Digest, limit: Option<Duration>) -> io::Result<Option<KeyGuard>> {
        let Some(limit) = limit else {
            return self.lock(key).map(Some);
        };
        let held = lock::lock_within(&self.root_dir, key, self.file_mode(), limit)?;
        Ok(held.map(|held| KeyGuard(Box::new(held))))
    }

    fn nearby(&self, dir: &str, version: &str) -> super::nearby::Nearby {
        super::nearby::look(&self.root_dir, dir, version)
    }

    fn clear(&self) -> io::Result<()> {
        // Only memo's own files, checked one by one (`owned.rs`).
        super::owned::remove_functions(&self.root_dir)?;
        super::blobs::sweep(&self.root_dir, self.file_mode()).map(drop)
    }

    fn remove(&self, path: &str) -> io::Result<()> {
        self.unlink(path)?;
        super::blobs::sweep(&self.root_dir, self.file_mode()).map(drop)
    }

    fn remove_function(&self, dir: &str) -> io::Result<()> {
        // Never follows a link planted in the cache; removes only memo's files.
        super::owned::remove_function(&self.root_dir, dir)?;
        super::blobs::sweep(&self.root_dir, self.file_mode()).map(drop)
    }

    fn blob_writer(&self) -> Option<Box<dyn crate::array::BlobWriter + '_>> {
        Some(Box::new(FsStore::blob_writer(self)))
    }

    fn blob_reader(&self) -> Option<&dyn crate::array::BlobReader> {
        Some(self)
    }

    fn root(&self) -> &Path {
        &self.root
    }
}

impl Store for FsStore {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn get(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        if !valid_path(path) {
            return Err(invalid_path(path));
        }
        let Some((file, len)) = self.open_file(path)? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        read::reserve(&mut bytes, len)?;
        // What the file holds now: it may have grown since the `fstat`.
        read::read_up_to(&file, &mut bytes, u64::MAX)?;
        Ok(Some(bytes))
    }

    fn get_to(&self, path: &str, out: &mut (dyn io::Write + Send)) -> io::Result<bool> {
        if !valid_path(path) {
            return Err(invalid_path(path));
        }
        let Some((file, _)) = self.open_file(path)? else {
            return Ok(false);
        };
        io::copy(&mut fs::File::from(file), out)?;
        Ok(true)
    }

    fn put(&self, path: &str, parts: &[&[u8]]) -> io::Result<()> {
        if !valid_path(path) {
            return Err(invalid_path(path));
        }
        EntryStore::write(self, path, parts)
    }

    fn put_if_absent(&self, path: &str, parts: &[&[u8]]) -> io::Result<Put> {
        if !valid_path(path) {
            return Err(invalid_path(path));
        }
        let mut fill = |file: &OwnedFd| write_parts(file, parts).map(|()| true);
        match self.create(path, &mut fill)? {
            Outcome::Exists => Ok(Put::Exists),
            Outcome::Created | Outcome::Nothing => Ok(Put::Created),
        }
    }

    fn delete(&self, path: &str) -> io::Result<()> {
        if !valid_path(path) {
            return Err(invalid_path(path));
        }
        self.unlink(path)
    }

    fn list(&self, prefix: &str) -> io::Result<Vec<ObjectMeta>> {
        let prefix = prefix.trim_matches('/');
        if !prefix.is_empty() {
            if !valid_path(prefix) {
                return Err(invalid_path(prefix));
            }
            // The prefix itself is reached without following a symlink.
            let flags = OFlags::RDONLY | OFlags::DIRECTORY;
            match beneath::open(&self.root_dir, prefix, flags, Mode::empty()) {
                Ok(_) => {}
                Err(Errno::NOENT | Errno::NOTDIR) => return Ok(Vec::new()),
                Err(e) => return Err(e.into()),
            }
        }
        let mut found = Vec::new();
        let mut pending = vec![prefix.to_owned()];
        while let Some(relative) = pending.pop() {
            let children = match fs::read_dir(self.root.join(&relative)) {
                Ok(children) => children,
                // Removed while we looked.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for child in children {
                let child = child?;
                let Some(name) = child.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                let path = if relative.is_empty() {
                    name
                } else {
                    format!("{relative}/{name}")
                };
                // Does not follow symlinks: a planted link is not listed.
                let Ok(meta) = child.metadata() else { continue };
                if meta.is_dir() {
                    pending.push(path);
                } else if meta.is_file() {
                    found.push(ObjectMeta {
                        path,
                        size: meta.len(),
                        modified: meta.modified().unwrap_or(std::time::UNIX_EPOCH),
                    });
                }
            }
        }
        Ok(found)
    }
}
