//! Compute-once locks: while one caller computes a key, every other caller
//! of that key — a thread of this process or another process — waits, then
//! reads the stored result.
//!
//! All keys of a cache share one lock file, `.locks` at its top; a key's
//! lock is one byte of it, at an offset taken from the key, held with an
//! open-file-description (OFD) lock. So:
//! - locking creates no file per key (a miss stays cheap);
//! - callers of different keys lock different bytes and never wait on each
//!   other;
//! - each caller opens the file itself, so threads of one process exclude
//!   each other like processes do;
//! - the kernel releases a lock when its holder dies, even by `kill -9`:
//!   a crashed computation never blocks the others for good.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use rustix::fs::{Mode, OFlags};

use crate::hash::Digest;

/// The lock file's name, at the top of a cache directory.
pub(crate) const LOCK_FILE: &str = ".locks";

/// A held key lock; dropping it (closing the file) releases it.
#[derive(Debug)]
pub(crate) struct KeyLock {
    _file: OwnedFd,
}

/// Waits for and takes the lock of `key` in the cache directory `root`.
pub(crate) fn lock(root: &OwnedFd, key: Digest, mode: Mode) -> io::Result<KeyLock> {
    let file = super::beneath::open(root, LOCK_FILE, OFlags::RDWR | OFlags::CREATE, mode)?;
    // 62 bits of the key: distinct keys get distinct bytes (up to a 2^-62
    // chance), and the offset stays far from off_t's limit.
    let offset = (key as u64) >> 2;
    // SAFETY: `struct flock` is plain C data (integers, and padding on some
    // targets), for which all-zero bytes are a valid value; the fields that
    // matter are set below.
    let mut request: libc::flock = unsafe { std::mem::zeroed() };
    request.l_type = libc::F_WRLCK as _;
    request.l_whence = libc::SEEK_SET as _;
    request.l_start = offset as libc::off_t;
    request.l_len = 1;
    loop {
        // SAFETY: `file` is an open descriptor for the duration of the call
        // and `request` is a valid, initialized `struct flock`.
        let result = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLKW, &request) };
        if result == 0 {
            return Ok(KeyLock { _file: file });
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}
