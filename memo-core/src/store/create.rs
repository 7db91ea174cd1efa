//! Creating a file without ever replacing one: written complete, then
//! linked under its name, which fails if the name exists. An anonymous
//! `O_TMPFILE` inode where the file system has them (a crash leaves
//! nothing), else a named temp file, hard-linked, then unlinked. Entries
//! and blobs are both created so.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{AtFlags, OFlags};
use rustix::io::Errno;

use super::fs::FsStore;
use crate::sys::random_u64;

/// What [`FsStore::create`] (or [`FsStore::create_named`]) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The file is in place.
    Created,
    /// A file was there already, and stays.
    Exists,
    /// `fill` said there was nothing to write.
    Nothing,
}

impl FsStore {
    /// Creates a file in `dir`: `fill` writes it and returns the name it
    /// goes under (`None`: create nothing; it may be called twice, when
    /// anonymous files turn out to be unusable). `temp_name` names the
    /// temp file where there are none. An existing file of that name stays
    /// ([`Outcome::Exists`]).
    pub(super) fn create_named(
        &self,
        dir: &OwnedFd,
        temp_name: fn(u64) -> String,
        fill: &mut dyn FnMut(&OwnedFd) -> io::Result<Option<String>>,
    ) -> io::Result<Outcome> {
        let flags = OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC;
        match rustix::fs::openat(dir, ".", flags, self.file_mode()) {
            Ok(file) => {
                self.exact_mode(&file)?;
                let Some(name) = fill(&file)? else {
                    return Ok(Outcome::Nothing);
                };
                match link_fd(&file, dir, &name) {
                    Ok(()) => return Ok(Outcome::Created),
                    Err(Errno::EXIST) => return Ok(Outcome::Exists),
                    Err(Errno::NOENT) if !Path::new("/proc/self/fd").exists() => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => {}
            Err(e) => return Err(e.into()),
        }
        // No anonymous files here: a named temp file, hard-linked to the
        // name (which fails if it exists), then unlinked.
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let (temp, file) = loop {
            let temp = temp_name(random_u64());
            match rustix::fs::openat(dir, temp.as_str(), flags, self.file_mode()) {
                Ok(file) => break (temp, file),
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let created = (|| {
            self.exact_mode(&file)?;
            let Some(name) = fill(&file)? else {
                return Ok(Outcome::Nothing);
            };
            match rustix::fs::linkat(dir, temp.as_str(), dir, name.as_str(), AtFlags::empty()) {
                Ok(()) => Ok(Outcome::Created),
                Err(Errno::EXIST) => Ok(Outcome::Exists),
                Err(e) => Err(e.into()),
            }
        })();
        let _ = rustix::fs::unlinkat(dir, temp.as_str(), AtFlags::empty());
        created
    }
}

/// Links the open anonymous file `file` into `dir` as `name`.
///
/// `AT_EMPTY_PATH` links the descriptor itself but needs the
/// CAP_DAC_READ_SEARCH capability; without it the kernel says `ENOENT`, and
/// the same link goes through the descriptor's `/proc/self/fd` entry.
pub(super) fn link_fd(file: &OwnedFd, dir: &OwnedFd, name: &str) -> rustix::io::Result<()> {
    static NO_EMPTY_PATH: AtomicBool = AtomicBool::new(false);
    if !NO_EMPTY_PATH.load(Ordering::Relaxed) {
        match rustix::fs::linkat(file, "", dir, name, AtFlags::EMPTY_PATH) {
            // `ENOENT` also means the directory was removed meanwhile: that
            // says nothing about the capability.
            Err(Errno::NOENT) if rustix::fs::fstat(dir).is_ok_and(|s| s.st_nlink == 0) => {
                return Err(Errno::NOENT);
            }
            Err(Errno::NOENT) => NO_EMPTY_PATH.store(true, Ordering::Relaxed),
            other => return other,
        }
    }
    let by_fd = format!("/proc/self/fd/{}", file.as_raw_fd());
    rustix::fs::linkat(rustix::fs::CWD, &by_fd, dir, name, AtFlags::SYMLINK_FOLLOW)
}
