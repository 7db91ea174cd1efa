//! The operating-system helpers every layer shares, each in one place:
//! directories opened without following symlinks and listed fast, whole
//! writes, open-file-description byte locks, the millisecond clock, random
//! names, and maps keyed by hashes.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, SystemTime};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

/// Opens the cache directory itself (following symlinks: the user named
/// it).
pub(crate) fn open_root(root: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Opens the directory `name` (one component) inside `parent`, refusing a
/// symlink: a link planted in a cache is never followed out of it.
pub(crate) fn open_dir(parent: impl AsFd, name: &str) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Opens `function/version` below the cache directory, one component at a
/// time, following no symlink.
pub(crate) fn open_version_dir(
    root: impl AsFd,
    function: &str,
    version: &str,
) -> rustix::io::Result<OwnedFd> {
    let function = open_dir(root, function)?;
    open_dir(&function, version)
}

/// The names in a directory (without `.` and `..`), with whether each is a
/// directory (`None`: the file system did not say) and its inode number.
pub(crate) fn list(
    dir: impl AsFd,
    mut each: impl FnMut(&CStr, Option<bool>, u64),
) -> io::Result<()> {
    use rustix::fs::{FileType, RawDir};
    let mut buffer = Vec::with_capacity(64 * 1024);
    let mut entries = RawDir::new(&dir, buffer.spare_capacity_mut());
    while let Some(entry) = entries.next() {
        let entry = entry?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let is_dir = match entry.file_type() {
            FileType::Directory => Some(true),
            FileType::Unknown => None,
            _ => Some(false),
        };
        each(name, is_dir, entry.ino());
    }
    Ok(())
}

/// Whether `name` in `dir` is a directory (not following a symlink).
pub(crate) fn is_dir_at(dir: impl AsFd, name: &CStr) -> bool {
    rustix::fs::statat(dir, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|stat| {
        rustix::fs::FileType::from_raw_mode(stat.st_mode) == rustix::fs::FileType::Directory
    })
}

/// Writes all of `bytes`.
pub(crate) fn write_all(file: impl AsFd, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match rustix::io::write(&file, bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => bytes = &bytes[written..],
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Reserves the blocks of the first `len` bytes of the new, empty `file`
/// before they are written: ext4 then allocates them in one call instead of
/// reserving each block as the page cache takes it (delayed allocation),
/// which made a 16 MiB write ~1.2× faster on the measured machine. Only a
/// hint: a file system without `fallocate` (or a full one) just gets the
/// writes, which fail if they must.
pub(crate) fn preallocate(file: impl AsFd, len: u64) {
    let _ = rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, len);
}

/// Takes an exclusive open-file-description lock on the first byte of
/// `file`: waiting for it if `wait`, else `Ok(false)` when another holds it.
/// The kernel releases it when the file is closed or its holder dies.
pub(crate) fn lock_exclusive(file: &OwnedFd, wait: bool) -> io::Result<bool> {
    lock_byte(file, 0, wait)
}

/// Takes an exclusive open-file-description lock on byte `offset` of
/// `file` (see [`lock_exclusive`]). Each open of a file is its own lock
/// owner, so threads of one process exclude each other as processes do.
pub(crate) fn lock_byte(file: &OwnedFd, offset: u64, wait: bool) -> io::Result<bool> {
    lock_byte_as(file, offset, libc::F_WRLCK, wait)
}

/// Takes a shared (read) open-file-description lock on the first byte of
/// `file`: any number of holders exclude an exclusive one ([`lock_exclusive`]).
pub(crate) fn lock_shared(file: &OwnedFd, wait: bool) -> io::Result<bool> {
    lock_byte_as(file, 0, libc::F_RDLCK, wait)
}

fn lock_byte_as(file: &OwnedFd, offset: u64, kind: libc::c_int, wait: bool) -> io::Result<bool> {
    // SAFETY: `struct flock` is plain C data (integers, and padding on some
    // targets), for which all-zero bytes are a valid value; the fields that
    // matter are set below.
    let mut request: libc::flock = unsafe { std::mem::zeroed() };
    request.l_type = kind as _;
    request.l_whence = libc::SEEK_SET as _;
    request.l_start = offset as libc::off_t;
    request.l_len = 1;
    let command = if wait {
        libc::F_OFD_SETLKW
    } else {
        libc::F_OFD_SETLK
    };
    loop {
        // SAFETY: `file` is an open descriptor for the duration of the call
        // and `request` is a valid, initialized `struct flock`.
        let result = unsafe { libc::fcntl(file.as_raw_fd(), command, &request) };
        if result == 0 {
            return Ok(true);
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN | libc::EACCES) if !wait => return Ok(false),
            _ => return Err(error),
        }
    }
}

/// Milliseconds since the Unix epoch (a vDSO clock read, no system call).
pub(crate) fn now_ms() -> u64 {
    millis(SystemTime::now())
}

/// Milliseconds on a coarse monotonic clock (a few ms of resolution, a
/// vDSO read cheaper than [`now_ms`]): for "at most every N ms" checks on
/// hot paths, never for times that are stored.
#[cfg(target_os = "linux")]
pub(crate) fn coarse_ms() -> u64 {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `time` is a valid, writable `timespec`; the clock id is valid
    // on every Linux since 2.6.32, and a failure leaves `time` at zero.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut time) };
    (time.tv_sec as u64).saturating_mul(1000) + time.tv_nsec as u64 / 1_000_000
}

/// Milliseconds on a monotonic clock, for "at most every N ms" checks.
#[cfg(not(target_os = "linux"))]
pub(crate) fn coarse_ms() -> u64 {
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    u64::try_from(
        ORIGIN
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_millis(),
    )
    .unwrap_or(u64::MAX)
}

/// `time` in milliseconds since the Unix epoch (0 before it).
pub(crate) fn millis(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The time `ms` milliseconds after the Unix epoch.
pub(crate) fn time_of(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

/// This machine's name, for names of objects and leases (`[A-Za-z0-9_-]`
/// only, at most 64 characters).
pub(crate) fn host_name() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname
    // NUL-terminates within it or truncates.
    let ok = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) } == 0;
    let name: String = if ok {
        buffer
            .iter()
            .take_while(|&&b| b != 0)
            .map(|&b| {
                if b.is_ascii_alphanumeric() || b == b'-' {
                    b as char
                } else {
                    '_'
                }
            })
            .take(64)
            .collect()
    } else {
        String::new()
    };
    if name.is_empty() {
        "host".to_owned()
    } else {
        name
    }
}

/// A random 64-bit number for file names: uniqueness, not secrecy.
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// A `Hasher` for keys that are hashes already: folds them, no mixing.
#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }

    fn write_u128(&mut self, n: u128) {
        self.0 ^= n as u64 ^ (n >> 64) as u64;
    }
}

/// A map keyed by entry keys or function-directory hashes.
pub(crate) type KeyMap<K, V> =
    std::collections::HashMap<K, V, std::hash::BuildHasherDefault<KeyHasher>>;
