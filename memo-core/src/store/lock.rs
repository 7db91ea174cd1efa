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
use std::time::{Duration, Instant};

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
    crate::sys::lock_byte(&file, offset(key), true)?;
    Ok(KeyLock { _file: file })
}

/// [`lock`], waiting at most `limit`; `None` when the limit passed with the
/// lock still held by another caller.
///
/// The kernel has no timed wait for a record lock, so this polls: at once,
/// then after 1 ms, doubling up to 50 ms between tries. A waiter only ever
/// waits on a computation, so a few milliseconds of lag after it ends
/// cost nothing next to it.
pub(crate) fn lock_within(
    root: &OwnedFd,
    key: Digest,
    mode: Mode,
    limit: Duration,
) -> io::Result<Option<KeyLock>> {
    let file = super::beneath::open(root, LOCK_FILE, OFlags::RDWR | OFlags::CREATE, mode)?;
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(1);
    loop {
        if crate::sys::lock_byte(&file, offset(key), false)? {
            return Ok(Some(KeyLock { _file: file }));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// The byte of `.locks` that stands for `key`: 62 bits of the key, so
/// distinct keys get distinct bytes (up to a 2^-62 chance), and the offset
/// stays far from off_t's limit.
fn offset(key: Digest) -> u64 {
    (key as u64) >> 2
}
