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

use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use super::{KeyGuard, Store, StoredEntry, beneath, lock};
use crate::access::Access;
use crate::entry;
use crate::hash::Digest;

/// Files memo keeps at the top of a cache directory; everything else there
/// is an entry directory.
const GITIGNORE: &str = ".gitignore";
const CACHEDIR_TAG: &str = "CACHEDIR.TAG";

/// Named temp files (the fallback write path) start with this; `memo gc`
/// removes any a crash left behind.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

/// Entries up to this size are read with a single `read` call.
const SMALL_ENTRY: usize = 16 * 1024;

/// A cache directory on a local filesystem.
#[derive(Debug)]
pub(crate) struct FsStore {
    root: PathBuf,
    /// The cache directory, opened once: entries are opened relative to it.
    root_dir: OwnedFd,
    access: Access,
}

impl FsStore {
    /// Opens (creating if needed) the cache directory at `root`.
    ///
    /// A directory that exists but cannot be written to still opens: hits
    /// are served from it, and writes fail one by one (and are reported).
    pub(crate) fn open(root: &Path, access: Access) -> io::Result<FsStore> {
        let root = std::path::absolute(root)?;
        if !root.is_dir() {
            fs::create_dir_all(&root)?;
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&root, fs::Permissions::from_mode(access.dir_mode()))?;
        }
        let root_dir = rustix::fs::open(
            &root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let store = FsStore {
            root,
            root_dir,
            access,
        };
        // Best effort: a read-only cache has no need for them.
        let _ = store.write_if_missing(
            GITIGNORE,
            b"# Created by memo: this directory is a cache.\n*\n",
        );
        let _ = store.write_if_missing(
            CACHEDIR_TAG,
            b"Signature: 8a477f597d28d172789f06886806bc55\n# This directory is a memo cache.\n",
        );
        Ok(store)
    }

    fn file_mode(&self) -> Mode {
        Mode::from_raw_mode(self.access.file_mode())
    }

    /// Sets a new file's mode exactly. Only group access needs it: the
    /// umask can only take bits away, and owner-only has none to take.
    fn exact_mode(&self, file: &OwnedFd) -> io::Result<()> {
        if self.access != Access::Owner {
            rustix::fs::fchmod(file, self.file_mode())?;
        }
        Ok(())
    }

    fn write_if_missing(&self, name: &str, contents: &[u8]) -> io::Result<()> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL;
        match beneath::open(&self.root_dir, name, flags, self.file_mode()) {
            Ok(file) => write_all(&file, contents),
            Err(Errno::EXIST) => Ok(()),
            Err(e) => Err(e.into()),
        }
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
            let temp_name = format!("{TEMP_PREFIX}{:016x}.memo", random_u64());
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

/// Links the open anonymous file `file` into `dir` as `name`.
///
/// `AT_EMPTY_PATH` links the descriptor itself but needs the
/// CAP_DAC_READ_SEARCH capability; without it the kernel says `ENOENT`, and
/// the same link goes through the descriptor's `/proc/self/fd` entry.
fn link_fd(file: &OwnedFd, dir: &OwnedFd, name: &str) -> rustix::io::Result<()> {
    static NO_EMPTY_PATH: AtomicBool = AtomicBool::new(false);
    if !NO_EMPTY_PATH.load(Ordering::Relaxed) {
        match rustix::fs::linkat(file, "", dir, name, AtFlags::EMPTY_PATH) {
            Err(Errno::NOENT) => NO_EMPTY_PATH.store(true, Ordering::Relaxed),
            other => return other,
        }
    }
    let by_fd = format!("/proc/self/fd/{}", file.as_raw_fd());
    rustix::fs::linkat(rustix::fs::CWD, &by_fd, dir, name, AtFlags::SYMLINK_FOLLOW)
}

/// A random 64-bit number for temp file names: uniqueness, not secrecy.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.finish()
}

fn write_parts(file: &OwnedFd, parts: &[&[u8]]) -> io::Result<()> {
    parts.iter().try_for_each(|part| write_all(file, part))
}

fn write_all(file: &OwnedFd, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match rustix::io::write(file, bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => bytes = &bytes[written..],
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Reads an entry file: all of a small one, with one `read` into a reused
/// per-thread buffer and one exact-size copy (a short read of a regular
/// file is its end; if it ever were not, the entry's length check catches
/// the truncation). Of a large one, `fstat` for its length and reads up to
/// the end of its output, leaving its arrays in the file.
fn read_entry(file: OwnedFd) -> io::Result<StoredEntry> {
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(SMALL_ENTRY));
    }
    let first = BUFFER.with(|buffer| {
        let mut buffer = buffer.try_borrow_mut().ok()?;
        buffer.clear();
        Some(read_more(&file, &mut buffer).map(|_| buffer.clone()))
    });
    let mut bytes = match first {
        Some(read) => read?,
        None => {
            let mut bytes = Vec::with_capacity(SMALL_ENTRY);
            read_more(&file, &mut bytes)?;
            bytes
        }
    };
    let len = if bytes.len() < SMALL_ENTRY {
        bytes.len() as u64
    } else {
        let len = rustix::fs::fstat(&file)?.st_size as u64;
        let wanted = entry::head_len(&bytes).unwrap_or(len).min(len);
        let wanted = usize::try_from(wanted).map_err(|_| io::ErrorKind::OutOfMemory)?;
        bytes.reserve(wanted.saturating_sub(bytes.len()));
        while bytes.len() < wanted && read_more(&file, &mut bytes)? > 0 {}
        len
    };
    Ok(StoredEntry {
        bytes,
        len,
        file: Some(std::fs::File::from(file)),
    })
}

fn read_more(file: &impl AsFd, bytes: &mut Vec<u8>) -> io::Result<usize> {
    loop {
        match rustix::io::read(file, rustix::buffer::spare_capacity(bytes)) {
            Ok(read) => return Ok(read),
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

impl Store for FsStore {
    fn read(&self, path: &str) -> io::Result<Option<StoredEntry>> {
        match beneath::open(&self.root_dir, path, OFlags::RDONLY, Mode::empty()) {
            Ok(file) => read_entry(file).map(Some),
            // A missing directory on the way means no entry either.
            Err(Errno::NOENT | Errno::NOTDIR) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn write(&self, path: &str, parts: &[&[u8]]) -> io::Result<()> {
        let (dir, name) = path.rsplit_once('/').expect("entry paths have a directory");
        let dir = beneath::create_dirs(&self.root_dir, dir, self.access.dir_mode())?;
        if self.link_new(&dir, name, parts)? {
            return Ok(());
        }
        self.replace(&dir, name, parts)
    }

    fn lock(&self, key: Digest) -> io::Result<KeyGuard> {
        Ok(KeyGuard(Box::new(lock::lock(
            &self.root_dir,
            key,
            self.file_mode(),
        )?)))
    }

    fn clear(&self) -> io::Result<()> {
        for child in fs::read_dir(&self.root)? {
            let child = child?;
            let name = child.file_name();
            if name == GITIGNORE || name == CACHEDIR_TAG || name == lock::LOCK_FILE {
                continue;
            }
            // `file_type` does not follow symlinks: a planted link is
            // removed, never the directory it points to.
            if child.file_type()?.is_dir() {
                fs::remove_dir_all(child.path())?;
            } else {
                fs::remove_file(child.path())?;
            }
        }
        Ok(())
    }
}
