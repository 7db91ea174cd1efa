//! The local filesystem store.
//!
//! A hit is the floor of what a file per entry allows: `openat` relative to
//! the cache directory (no walk of the absolute path), one `read`, `close`.
//! A new entry is written to an anonymous `O_TMPFILE` inode and linked into
//! place once complete, so readers never see a partial entry and a crash
//! leaves nothing behind; replacing an existing entry (a stale or corrupt
//! one) writes a named temp file and renames it over.

use std::fs;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use super::{KeyGuard, Store, lock};
use crate::hash::Digest;

/// Files memo keeps at the top of a cache directory; everything else there
/// is an entry directory.
const GITIGNORE: &str = ".gitignore";
const CACHEDIR_TAG: &str = "CACHEDIR.TAG";

/// Entries up to this size are read with a single `read` call.
const SMALL_ENTRY: usize = 16 * 1024;

/// Permissions of entry files (before the umask).
const ENTRY_MODE: u32 = 0o644;

/// A cache directory on a local filesystem.
#[derive(Debug)]
pub(crate) struct FsStore {
    root: PathBuf,
    /// The cache directory, opened once: entries are opened relative to it.
    root_dir: OwnedFd,
}

impl FsStore {
    /// Opens (creating if needed) the cache directory at `root`.
    ///
    /// A directory that exists but cannot be written to still opens: hits
    /// are served from it, and writes fail one by one (and are reported).
    pub(crate) fn open(root: &Path) -> io::Result<FsStore> {
        let root = std::path::absolute(root)?;
        fs::create_dir_all(&root)?;
        // Best effort: a read-only cache has no need for them.
        let _ = write_if_missing(
            &root.join(GITIGNORE),
            b"# Created by memo: this directory is a cache.\n*\n",
        );
        let _ = write_if_missing(
            &root.join(CACHEDIR_TAG),
            b"Signature: 8a477f597d28d172789f06886806bc55\n# This directory is a memo cache.\n",
        );
        let root_dir = rustix::fs::open(
            &root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(FsStore { root, root_dir })
    }

    /// Writes `bytes` to an anonymous file in `dir` and links it at `path`.
    /// `Ok(false)`: not possible here (no `O_TMPFILE` support, or `path`
    /// exists already); the caller falls back to a named temp file.
    fn link_new(&self, dir: &str, path: &str, bytes: &[u8]) -> io::Result<bool> {
        let flags = OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC;
        let file =
            match rustix::fs::openat(&self.root_dir, dir, flags, Mode::from_raw_mode(ENTRY_MODE)) {
                Ok(file) => file,
                Err(Errno::NOENT) => {
                    fs::create_dir_all(self.root.join(dir))?;
                    rustix::fs::openat(&self.root_dir, dir, flags, Mode::from_raw_mode(ENTRY_MODE))?
                }
                // The file system has no anonymous files.
                Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => return Ok(false),
                Err(e) => return Err(e.into()),
            };
        write_all(&file, bytes)?;
        // Linking an open file by descriptor without privileges goes
        // through /proc; `AT_EMPTY_PATH` would need CAP_DAC_READ_SEARCH.
        let by_fd = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file));
        match rustix::fs::linkat(
            rustix::fs::CWD,
            &by_fd,
            &self.root_dir,
            path,
            AtFlags::SYMLINK_FOLLOW,
        ) {
            Ok(()) => Ok(true),
            // Another writer got there first, or a stale entry is in place:
            // both are replaced by rename.
            Err(Errno::EXIST) => Ok(false),
            // No /proc: fall back too.
            Err(Errno::NOENT) if !Path::new("/proc/self/fd").exists() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes `bytes` to a named temp file beside `path` and renames it over.
    fn replace(&self, path: &str, bytes: &[u8]) -> io::Result<()> {
        let target = self.root.join(path);
        let dir = target.parent().expect("entry paths have a directory");
        let temp = match temp_file_in(dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(dir)?;
                temp_file_in(dir)?
            }
            other => other?,
        };
        temp.as_file().write_all(bytes)?;
        temp.persist(&target).map_err(|e| e.error)?;
        Ok(())
    }
}

fn write_if_missing(path: &Path, contents: &[u8]) -> io::Result<()> {
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(mut file) => file.write_all(contents),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
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

/// Reads a whole file. A small entry takes one `read` into a reused
/// per-thread buffer and one exact-size copy (a short read of a regular
/// file is its end; if it ever were not, the entry's length check catches
/// the truncation). A large one takes `fstat` and reads of the rest.
fn read_to_end(file: impl AsFd) -> io::Result<Vec<u8>> {
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
    if bytes.len() < SMALL_ENTRY {
        return Ok(bytes);
    }
    let size = rustix::fs::fstat(&file)?.st_size;
    bytes.reserve(
        usize::try_from(size)
            .unwrap_or(0)
            .saturating_sub(bytes.len())
            + 1,
    );
    while read_more(&file, &mut bytes)? > 0 {
        if bytes.len() == bytes.capacity() {
            bytes.reserve(SMALL_ENTRY);
        }
    }
    Ok(bytes)
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
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        let flags = OFlags::RDONLY | OFlags::CLOEXEC;
        match rustix::fs::openat(&self.root_dir, path, flags, Mode::empty()) {
            Ok(file) => read_to_end(file).map(Some),
            // A missing directory on the way means no entry either.
            Err(Errno::NOENT | Errno::NOTDIR) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn write(&self, path: &str, bytes: &[u8]) -> io::Result<()> {
        let (dir, _) = path.rsplit_once('/').expect("entry paths have a directory");
        if self.link_new(dir, path, bytes)? {
            return Ok(());
        }
        self.replace(path, bytes)
    }

    fn lock(&self, key: Digest) -> io::Result<KeyGuard> {
        self.lock_key(key)
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

impl FsStore {
    fn lock_key(&self, key: Digest) -> io::Result<KeyGuard> {
        Ok(KeyGuard(Box::new(lock::lock(&self.root_dir, key)?)))
    }
}

fn temp_file_in(dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .permissions(fs::Permissions::from_mode(ENTRY_MODE))
        .prefix(".tmp-")
        .suffix(".memo")
        .tempfile_in(dir)
}
