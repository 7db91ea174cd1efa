//! Which directories memo may use as a cache, and proving that one is.
//!
//! A cache location may be any path a user (or `$MEMO_CACHE_DIR`) names:
//! a project root, a home directory, `/`. memo never adopts a directory
//! holding files it did not create. It uses a directory as a cache only
//! when the directory
//!
//! - did not exist (memo creates it),
//! - is empty, or
//! - carries memo's marker: a `CACHEDIR.TAG` with memo's own text, written
//!   atomically (linked into place complete) before anything else.
//!
//! A cache left with a torn marker by an older memo (a full disk at first
//! use) is recognised and repaired when everything in it has memo's names.
//! Anything else is refused with [`NotACache`], and calls run uncached.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use crate::access::Access;
use crate::layout::{self, GITIGNORE, GITIGNORE_TEXT, MARKER, MARKER_CAP, MARKER_TEXT};

/// A directory that is not a memo cache: memo never writes to it.
#[derive(Debug, thiserror::Error)]
#[error(
    "{} is not a memo cache: it holds files memo did not create (such as {example:?}); \
     memo uses only a new or empty directory, or one it created",
    .path.display()
)]
pub struct NotACache {
    /// The directory.
    pub path: PathBuf,
    /// One of the names in it that are not memo's.
    pub example: String,
}

impl From<NotACache> for io::Error {
    fn from(error: NotACache) -> io::Error {
        io::Error::new(io::ErrorKind::PermissionDenied, error)
    }
}

/// Whether `error` says a directory is not a memo cache.
pub(crate) fn is_not_a_cache(error: &io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<NotACache>().is_some())
}

/// Opens the cache directory `root` (absolute) for use, creating it if
/// missing and marking it if empty; refuses a directory that is not memo's.
pub(crate) fn claim(root: &Path, access: Access) -> io::Result<OwnedFd> {
    if let Err(e) = std::fs::symlink_metadata(root)
        && e.kind() == io::ErrorKind::NotFound
    {
        std::fs::create_dir_all(root)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(access.dir_mode()))?;
    }
    let dir = open_dir(root)?;
    match inspect(root, &dir)? {
        State::Marked => {
            // Best effort: a read-only cache has no need for it.
            let _ = write_marker(&dir, GITIGNORE, GITIGNORE_TEXT, access, false);
        }
        State::Empty | State::Torn => {
            let repair = true;
            write_marker(&dir, MARKER, MARKER_TEXT, access, repair)?;
            let _ = write_marker(&dir, GITIGNORE, GITIGNORE_TEXT, access, repair);
        }
        State::Foreign(example) => {
            return Err(NotACache {
                path: root.to_owned(),
                example,
            }
            .into());
        }
    }
    Ok(dir)
}

/// Checks that `root` is a memo cache (or an empty directory: nothing there
/// to protect) without creating anything; repairs a torn marker. For tools
/// that open an existing cache (`memo`, `clear`), and before every removal.
pub(crate) fn verify(root: &Path, access: Access) -> io::Result<OwnedFd> {
    let dir = open_dir(root)?;
    match inspect(root, &dir)? {
        State::Marked => Ok(dir),
        State::Torn => {
            write_marker(&dir, MARKER, MARKER_TEXT, access, true)?;
            let _ = write_marker(&dir, GITIGNORE, GITIGNORE_TEXT, access, true);
            Ok(dir)
        }
        // Nothing in it, so nothing to protect: an empty cache.
        State::Empty => Ok(dir),
        State::Foreign(example) => Err(NotACache {
            path: root.to_owned(),
            example,
        }
        .into()),
    }
}

/// Whether the open directory `dir` carries memo's marker.
pub(crate) fn is_marked(dir: impl AsFd) -> bool {
    read_small(&dir, MARKER).is_ok_and(|text| text.as_deref() == Some(MARKER_TEXT))
}

fn open_dir(root: &Path) -> io::Result<OwnedFd> {
    // The user named this path: a symlink to the cache is followed here,
    // and never below it.
    Ok(rustix::fs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

enum State {
    Empty,
    Marked,
    /// Memo's names only, with a marker torn by a failed first write.
    Torn,
    /// Holds this name, which is not memo's.
    Foreign(String),
}

fn inspect(root: &Path, dir: &OwnedFd) -> io::Result<State> {
    if is_marked(dir) {
        return Ok(State::Marked);
    }
    let mut names = Vec::new();
    let mut dirs = std::collections::HashSet::new();
    for child in std::fs::read_dir(root)? {
        let child = child?;
        let name = child.file_name().to_string_lossy().into_owned();
        let kind = child.file_type()?;
        // Another process claiming this directory at the same moment:
        // its marker, complete, under a temp name about to be renamed.
        if kind.is_file() && layout::is_temp_name(&name) {
            continue;
        }
        if kind.is_dir() {
            dirs.insert(name.clone());
        }
        names.push(name);
    }
    if names.is_empty() {
        return Ok(State::Empty);
    }
    // Marked by another process while we listed.
    if is_marked(dir) {
        return Ok(State::Marked);
    }
    let torn_marker = |name: &str, text: &[u8]| matches!(read_small(dir, name), Ok(Some(found)) if text.starts_with(&found));
    // Both files exist only if memo created them (with O_EXCL, this pair
    // of names); each holds at most the start of memo's text.
    if torn_marker(MARKER, MARKER_TEXT) && torn_marker(GITIGNORE, GITIGNORE_TEXT) {
        let memo_shaped = |name: &String| {
            layout::is_top_level_name(name)
                || (layout::is_function_dir(name) && dirs.contains(name))
        };
        match names.iter().find(|name| !memo_shaped(name)) {
            None => return Ok(State::Torn),
            Some(name) => return Ok(State::Foreign(name.clone())),
        }
    }
    names.sort();
    let example = names
        .iter()
        .find(|name| !layout::is_top_level_name(name))
        .unwrap_or(&names[0]);
    Ok(State::Foreign(example.clone()))
}

/// Reads a marker as any file in a cache is read (`read.rs`): never a
/// FIFO, a link or more than a marker holds.
fn read_small(dir: impl AsFd, name: &str) -> io::Result<Option<Vec<u8>>> {
    super::read::read_small(dir, name, MARKER_CAP as u64)
}

/// Writes a marker file atomically: complete under a temp name, then
/// linked (or, with `replace`, renamed) into place. Without `replace` an
/// existing file is left as it is.
fn write_marker(
    dir: &OwnedFd,
    name: &str,
    text: &[u8],
    access: Access,
    replace: bool,
) -> io::Result<()> {
    if !replace && read_small(dir, name).is_ok_and(|found| found.as_deref() == Some(text)) {
        return Ok(());
    }
    let temp = layout::temp_name(crate::sys::random_u64());
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let file = rustix::fs::openat(
        dir,
        temp.as_str(),
        flags,
        Mode::from_raw_mode(access.file_mode()),
    )?;
    let placed = (|| {
        crate::sys::write_all(&file, text)?;
        if replace {
            rustix::fs::renameat(dir, temp.as_str(), dir, name)?;
        } else {
            match rustix::fs::linkat(dir, temp.as_str(), dir, name, AtFlags::empty()) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(io::Error::from(e)),
            }
        }
        Ok(())
    })();
    let _ = rustix::fs::unlinkat(dir, temp.as_str(), AtFlags::empty());
    placed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_and_empty_directories_are_claimed_and_marked() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("a/b");
        claim(&new, Access::Owner).unwrap();
        assert_eq!(std::fs::read(new.join(MARKER)).unwrap(), MARKER_TEXT);
        assert_eq!(std::fs::read(new.join(GITIGNORE)).unwrap(), GITIGNORE_TEXT);
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        claim(&empty, Access::Owner).unwrap();
        assert!(is_marked(open_dir(&empty).unwrap()));
        // Claiming again changes nothing.
        claim(&empty, Access::Owner).unwrap();
        assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 2);
    }

    #[test]
    fn a_directory_with_other_files_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Cargo.toml"), "[package]").unwrap();
        let error = claim(dir.path(), Access::Owner).unwrap_err();
        assert!(is_not_a_cache(&error), "{error}");
        assert!(error.to_string().contains("Cargo.toml"), "{error}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // A foreign CACHEDIR.TAG (cargo's) is no proof either.
        std::fs::write(
            dir.path().join(MARKER),
            "Signature: 8a477f597d28d172789f06886806bc55\n# cargo\n",
        )
        .unwrap();
        assert!(claim(dir.path(), Access::Owner).is_err());
    }

    #[test]
    fn torn_markers_are_repaired() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MARKER), "").unwrap();
        std::fs::write(dir.path().join(GITIGNORE), "").unwrap();
        std::fs::create_dir(dir.path().join("my_crate.f")).unwrap();
        verify(dir.path(), Access::Owner).unwrap();
        assert_eq!(std::fs::read(dir.path().join(MARKER)).unwrap(), MARKER_TEXT);
        assert_eq!(
            std::fs::read(dir.path().join(GITIGNORE)).unwrap(),
            GITIGNORE_TEXT
        );
        assert!(!std::fs::read_dir(dir.path()).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".tmp-")
        }));
    }

    #[test]
    fn torn_markers_beside_foreign_files_are_not_repaired() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MARKER), "").unwrap();
        std::fs::write(dir.path().join(GITIGNORE), "").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
        assert!(verify(dir.path(), Access::Owner).is_err());
        assert_eq!(std::fs::read(dir.path().join(MARKER)).unwrap(), b"");
    }

    #[test]
    fn a_directory_being_claimed_by_another_process_is_claimed_too() {
        let dir = tempfile::tempdir().unwrap();
        // The other process's marker, not yet renamed into place.
        std::fs::write(dir.path().join(layout::temp_name(1)), MARKER_TEXT).unwrap();
        claim(dir.path(), Access::Owner).unwrap();
        assert!(is_marked(open_dir(dir.path()).unwrap()));
    }

    #[test]
    fn claims_racing_in_threads_all_succeed() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            std::thread::scope(|threads| {
                for _ in 0..4 {
                    threads.spawn(|| claim(dir.path(), Access::Owner).unwrap());
                }
            });
            assert!(is_marked(open_dir(dir.path()).unwrap()));
        }
    }

    #[test]
    fn a_fifo_marker_does_not_hang() {
        let dir = tempfile::tempdir().unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            dir.path().join(MARKER),
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert!(!is_marked(open_dir(dir.path()).unwrap()));
        assert!(claim(dir.path(), Access::Owner).is_err());
    }
}
