//! Reading files memo finds in a cache, which it does not trust.
//!
//! A cache directory may be shared, damaged or planted with anything: a
//! FIFO where an entry was (opening or reading it would wait forever), a
//! symlink to `/dev/zero` (an endless file), a sparse file of 100 GB, a
//! header announcing more than memory holds. Every file memo reads goes
//! through here:
//!
//! - it is opened with `O_NONBLOCK` (opening a FIFO cannot wait for a
//!   writer, and reading one returns at once) and without following any
//!   symlink (`beneath.rs`);
//! - it is read only if it is a regular file — checked with `fstat` where a
//!   read alone cannot tell (see [`open_nonblocking`]);
//! - it is read within bounds: a cap for bookkeeping files, and memory is
//!   reserved with `try_reserve`, so a size memory cannot hold is an error,
//!   never an abort.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

use super::beneath;

/// Why a file in a cache was not read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// A FIFO, device, socket or directory where a file should be.
    #[error("not a regular file")]
    NotRegular,
    /// Larger than anything memo writes under that name.
    #[error("{size} bytes, more than the {cap} a file of this kind can hold")]
    TooLarge { size: u64, cap: u64 },
    /// A length memory cannot hold (a damaged or hostile header).
    #[error("cannot allocate {0} bytes to read it")]
    NoMemory(u64),
}

impl From<ReadError> for io::Error {
    fn from(error: ReadError) -> io::Error {
        let kind = match error {
            ReadError::NotRegular | ReadError::TooLarge { .. } => io::ErrorKind::InvalidData,
            ReadError::NoMemory(_) => io::ErrorKind::OutOfMemory,
        };
        io::Error::new(kind, error)
    }
}

/// Opens `path` (relative, `/`-separated) below `dir` for reading, without
/// blocking and without following a symlink; `None` when nothing is there.
///
/// No `fstat`: the hit path pays for one only when it needs the length. A
/// caller that reads a file whole without knowing its length must check
/// [`regular_len`] (or use [`open_regular`]). Reading what this returns
/// never blocks: a FIFO opened without blocking reads as empty (no
/// writer) or fails with `EAGAIN`.
pub(crate) fn open_nonblocking(dir: impl AsFd, path: &str) -> io::Result<Option<OwnedFd>> {
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY;
    match beneath::open(dir, path, flags, Mode::empty()) {
        Ok(file) => Ok(Some(file)),
        Err(Errno::NOENT | Errno::NOTDIR) => Ok(None),
        // A symlink on the way (`ELOOP`), or a device with no driver.
        Err(Errno::LOOP | Errno::NXIO | Errno::NODEV) => Err(ReadError::NotRegular.into()),
        Err(e) => Err(e.into()),
    }
}

/// The length of `file` if it is a regular file; [`ReadError::NotRegular`]
/// otherwise.
pub(crate) fn regular_len(file: impl AsFd) -> io::Result<u64> {
    let stat = rustix::fs::fstat(file)?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(ReadError::NotRegular.into());
    }
    Ok(u64::try_from(stat.st_size).unwrap_or(0))
}

/// Opens `path` below `dir` like [`open_nonblocking`] and checks that it
/// is a regular file; returns it with its length.
pub(crate) fn open_regular(dir: impl AsFd, path: &str) -> io::Result<Option<(OwnedFd, u64)>> {
    let Some(file) = open_nonblocking(dir, path)? else {
        return Ok(None);
    };
    let len = regular_len(&file)?;
    Ok(Some((file, len)))
}

/// Reads all of the small file `path` below `dir` (a marker, `.current`, a
/// summary): `None` when it is missing; an error when it is not a regular
/// file or holds more than `cap` bytes.
pub(crate) fn read_small(dir: impl AsFd, path: &str, cap: u64) -> io::Result<Option<Vec<u8>>> {
    let Some((file, len)) = open_regular(dir, path)? else {
        return Ok(None);
    };
    if len > cap {
        return Err(ReadError::TooLarge { size: len, cap }.into());
    }
    let mut bytes = Vec::new();
    reserve(&mut bytes, len)?;
    // One byte more than announced, to see the end; a file that grew since
    // the `fstat` is still read only up to the cap.
    read_up_to(&file, &mut bytes, len.saturating_add(1).min(cap))?;
    Ok(Some(bytes))
}

/// Makes room for `more` bytes in `bytes`, or fails with
/// [`ReadError::NoMemory`]: never an abort.
pub(crate) fn reserve(bytes: &mut Vec<u8>, more: u64) -> io::Result<()> {
    let wanted = usize::try_from(more).map_err(|_| ReadError::NoMemory(more))?;
    bytes
        .try_reserve_exact(wanted)
        .map_err(|_| ReadError::NoMemory(more).into())
}

/// Reads from `file` into `bytes` until it holds `limit` bytes or the file
/// ends; reserves as it goes, never past `limit`.
pub(crate) fn read_up_to(file: impl AsFd, bytes: &mut Vec<u8>, limit: u64) -> io::Result<()> {
    const CHUNK: u64 = 64 * 1024;
    loop {
        let len = bytes.len() as u64;
        if len >= limit {
            return Ok(());
        }
        if bytes.capacity() == bytes.len() {
            reserve(bytes, (limit - len).min(CHUNK))?;
        }
        let room = usize::try_from(limit - len).unwrap_or(usize::MAX);
        let read = {
            let spare = bytes.spare_capacity_mut();
            let end = spare.len().min(room);
            read_into(&file, &mut spare[..end])?
        };
        if read == 0 {
            return Ok(());
        }
        // SAFETY: the kernel initialized the first `read` bytes of the spare
        // capacity, which `read_into` was given and no more.
        unsafe { bytes.set_len(bytes.len() + read) };
    }
}

/// One `read` into `spare`; how many bytes it filled (0: the end).
fn read_into(file: impl AsFd, spare: &mut [std::mem::MaybeUninit<u8>]) -> io::Result<usize> {
    loop {
        match rustix::io::read(&file, &mut *spare) {
            Ok((filled, _)) => return Ok(filled.len()),
            Err(Errno::INTR) => {}
            // A FIFO with a writer that wrote nothing yet: nothing to read.
            Err(Errno::AGAIN) => return Err(ReadError::NotRegular.into()),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Reads as much of `file` as one `read` returns into the spare capacity of
/// `bytes`: the hit path's single read.
pub(crate) fn read_once(file: impl AsFd, bytes: &mut Vec<u8>) -> io::Result<usize> {
    loop {
        match rustix::io::read(&file, rustix::buffer::spare_capacity(bytes)) {
            Ok(read) => return Ok(read),
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => return Err(ReadError::NotRegular.into()),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Reads up to `len` bytes of `file` from `offset` (`pread`), as much as
/// the file holds; memory reserved with [`reserve`].
pub(crate) fn read_range(file: impl AsFd, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reserve(&mut bytes, len)?;
    bytes.resize(len as usize, 0);
    let mut filled = 0;
    while filled < bytes.len() {
        match rustix::io::pread(&file, &mut bytes[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => return Err(ReadError::NotRegular.into()),
            Err(e) => return Err(e.into()),
        }
    }
    bytes.truncate(filled);
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn dir_fd(dir: &std::path::Path) -> OwnedFd {
        rustix::fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap()
    }

    #[test]
    fn reads_a_small_file_and_refuses_what_is_not_one() {
        let dir = tempfile::tempdir().unwrap();
        let fd = dir_fd(dir.path());
        std::fs::write(dir.path().join("small"), b"hello").unwrap();
        assert_eq!(
            read_small(&fd, "small", 16).unwrap().as_deref(),
            Some(&b"hello"[..])
        );
        assert!(read_small(&fd, "missing", 16).unwrap().is_none());
        let too_large = read_small(&fd, "small", 4).unwrap_err();
        assert_eq!(too_large.kind(), io::ErrorKind::InvalidData);

        rustix::fs::mknodat(&fd, "fifo", FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
        let fifo = read_small(&fd, "fifo", 16).unwrap_err();
        assert_eq!(fifo.kind(), io::ErrorKind::InvalidData, "{fifo}");

        symlink("/dev/zero", dir.path().join("zero")).unwrap();
        assert!(read_small(&fd, "zero", 16).is_err());
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert!(read_small(&fd, "sub", 16).is_err());
    }

    #[test]
    fn a_length_memory_cannot_hold_is_an_error() {
        let mut bytes = Vec::new();
        let error = reserve(&mut bytes, u64::MAX / 2).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::OutOfMemory);
    }

    #[test]
    fn reads_stop_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), vec![7u8; 200_000]).unwrap();
        let fd = dir_fd(dir.path());
        let (file, len) = open_regular(&fd, "f").unwrap().unwrap();
        assert_eq!(len, 200_000);
        let mut bytes = Vec::new();
        read_up_to(&file, &mut bytes, 100_000).unwrap();
        assert_eq!(bytes.len(), 100_000);
        assert_eq!(read_range(&file, 199_990, 100).unwrap().len(), 10);
    }
}
