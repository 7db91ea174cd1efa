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
use std::os::fd::OwnedFd;

use rustix::fs::{Mode, OFlags};

use crate::hash::Digest;

use crate::layout::LOCK_FILE;

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
    crate::sys::lock_byte(&file, offset, true)?;
    Ok(KeyLock { _file: file })
}
