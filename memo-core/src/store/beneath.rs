//! Opening paths inside the cache directory without ever leaving it.
//!
//! A cache directory may be shared, and a planted symlink must not turn a
//! read into a read of another file, or a write into a write elsewhere. Every
//! path below the cache directory is resolved relative to its open
//! descriptor with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`: a
//! symlink anywhere on the way, or a `..` escaping, fails with `ELOOP` or
//! `EXDEV` instead of being followed. Kernels before 5.6 lack `openat2`;
//! there each component is opened with `O_NOFOLLOW`, which gives the same
//! guarantee one step at a time.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// Set once `openat2` turned out to be missing, to skip trying it again.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// Opens `path` (relative, `/`-separated) below `root`, following no symlink.
pub(crate) fn open(
    root: impl AsFd,
    path: &str,
    flags: OFlags,
    mode: Mode,
) -> rustix::io::Result<OwnedFd> {
    let flags = flags | OFlags::CLOEXEC;
    if !NO_OPENAT2.load(Ordering::Relaxed) {
        let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS;
        match rustix::fs::openat2(&root, path, flags, mode, resolve) {
            Err(Errno::NOSYS) => NO_OPENAT2.store(true, Ordering::Relaxed),
            other => return other,
        }
    }
    open_step_by_step(root.as_fd(), path, flags, mode)
}

/// The `openat2`-less fallback: one `O_NOFOLLOW` open per component.
fn open_step_by_step(
    root: impl AsFd,
    path: &str,
    flags: OFlags,
    mode: Mode,
) -> rustix::io::Result<OwnedFd> {
    let (dirs, last) = match path.rsplit_once('/') {
        Some((dirs, last)) => (Some(dirs), last),
        None => (None, path),
    };
    let mut dir: Option<OwnedFd> = None;
    for component in dirs.into_iter().flat_map(|d| d.split('/')) {
        if component.is_empty() || component == "." || component == ".." {
            return Err(Errno::XDEV);
        }
        let parent = dir.as_ref().map_or(root.as_fd(), |d| d.as_fd());
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        dir = Some(rustix::fs::openat(parent, component, flags, Mode::empty())?);
    }
    if last == ".." {
        return Err(Errno::XDEV);
    }
    let parent = dir.as_ref().map_or(root.as_fd(), |d| d.as_fd());
    rustix::fs::openat(parent, last, flags | OFlags::NOFOLLOW, mode)
}

/// Opens the directory `path` below `root`, creating what is missing with
/// `dir_mode` (set exactly, whatever the umask).
pub(crate) fn create_dirs(root: impl AsFd, path: &str, dir_mode: u32) -> io::Result<OwnedFd> {
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY;
    match open(&root, path, dir_flags, Mode::empty()) {
        Ok(dir) => return Ok(dir),
        Err(Errno::NOENT) => {}
        Err(e) => return Err(e.into()),
    }
    let mut dir = rustix::fs::openat(&root, ".", dir_flags | OFlags::CLOEXEC, Mode::empty())?;
    for component in path.split('/') {
        match rustix::fs::mkdirat(&dir, component, Mode::from_raw_mode(dir_mode)) {
            Ok(()) => {
                let created = open(&dir, component, dir_flags, Mode::empty())?;
                rustix::fs::fchmod(&created, Mode::from_raw_mode(dir_mode))?;
                dir = created;
            }
            Err(Errno::EXIST) => dir = open(&dir, component, dir_flags, Mode::empty())?,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(dir)
}
