//! `.current`: which code version of a function its programs use now.
//!
//! A separate tool cannot see a program's functions, so the runtime leaves a
//! note in each function's directory: the first cached call of a function in
//! a process writes `<function dir>/.current` — its code version and its
//! identity, one per line — if the file says something else. Every other
//! version directory of that function is *stale*: what `memo gc --stale` and
//! [`Memory::gc_stale`](crate::Memory::gc_stale) reclaim.

use std::io;
use std::os::fd::AsFd;
use std::path::Path;

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use crate::access::Access;
use crate::store::read;
use crate::sys;

/// The file's name inside a function directory.
use crate::layout::CURRENT_FILE;

/// More than any `.current` memo writes: a version and an identity.
const MAX_CURRENT_LEN: u64 = 64 * 1024;

/// What a `.current` file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Current {
    /// The code-version directory in use (16 hex digits).
    pub version: String,
    /// The function's identity (`crate::module::f`).
    pub identity: String,
}

impl Current {
    pub(crate) fn render(&self) -> String {
        format!("{}\n{}\n", self.version, self.identity)
    }

    pub(crate) fn parse(text: &[u8]) -> Option<Current> {
        let text = std::str::from_utf8(text).ok()?;
        let mut lines = text.lines();
        let version = lines.next()?.trim();
        let identity = lines.next().unwrap_or("").trim();
        let hex = version.len() == 16 && version.bytes().all(|b| b.is_ascii_hexdigit());
        hex.then(|| Current {
            version: version.to_owned(),
            identity: identity.to_owned(),
        })
    }
}

/// Reads `.current` in the function directory `function` (an open
/// descriptor); `None` when it is missing, unreadable or not a regular file.
pub(crate) fn read_at(function: impl AsFd) -> Option<Current> {
    let text = read::read_small(function, CURRENT_FILE, MAX_CURRENT_LEN).ok()??;
    Current::parse(&text)
}

/// Records that `version` is the current code version of the function in
/// `root/dir`, unless `.current` says so already.
pub(crate) fn announce(
    root: &Path,
    dir: &str,
    current: &Current,
    access: Access,
) -> io::Result<()> {
    let root = sys::open_root(root)?;
    let function = sys::open_dir(&root, dir)?;
    if read_at(&function).as_ref() == Some(current) {
        return Ok(());
    }
    write_at(&function, current, access)
}

/// Replaces `.current` in an open function directory, atomically.
pub(crate) fn write_at(function: impl AsFd, current: &Current, access: Access) -> io::Result<()> {
    let temp = crate::layout::current_temp_name(sys::random_u64());
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mode = Mode::from_raw_mode(access.file_mode());
    let file = rustix::fs::openat(&function, temp.as_str(), flags, mode)?;
    let written = (|| {
        if access != Access::Owner {
            rustix::fs::fchmod(&file, mode)?;
        }
        sys::write_all(&file, current.render().as_bytes())?;
        rustix::fs::renameat(&function, temp.as_str(), &function, CURRENT_FILE)?;
        Ok::<(), io::Error>(())
    })();
    if written.is_err() {
        let _ = rustix::fs::unlinkat(&function, temp.as_str(), AtFlags::empty());
    }
    written
}

/// Whether an error only means the directory is not there (yet).
pub(crate) fn is_missing(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error().map(Errno::from_raw_os_error),
        Some(Errno::NOENT | Errno::NOTDIR)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_renders_and_nothing_else() {
        let current = Current {
            version: "0123456789abcdef".into(),
            identity: "my_crate::f".into(),
        };
        assert_eq!(Current::parse(current.render().as_bytes()), Some(current));
        assert_eq!(Current::parse(b"not a version\nx\n"), None);
        assert_eq!(Current::parse(b""), None);
        assert_eq!(
            Current::parse(b"0123456789abcdef\n").map(|c| c.identity),
            Some(String::new())
        );
    }
}
