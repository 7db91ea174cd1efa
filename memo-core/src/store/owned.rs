//! Removing only what memo can prove is its own.
//!
//! Every operation that deletes files — clear, gc, limits, forget, verify's
//! repair — goes through here. A file goes only when it has one of memo's
//! names in one of memo's places (see `layout.rs`), is a regular file (a
//! planted link is never followed, and never taken for an entry), and, for
//! an entry, starts with memo's magic bytes. A directory goes only by
//! `rmdir`, which the kernel refuses while anything is left in it: a user's
//! file inside a cache keeps its directory, and is reported, not removed.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use super::lease::{MIN_LEASE_TIME, Terms, over_by_wall_clock};
use super::object::Store;
use crate::entry::MAGIC;
use crate::layout;

/// How much proof an entry file needs before it is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proof {
    /// Its name, and memo's magic at its start.
    Format,
    /// Verify just read it and found it damaged, and repair was asked for:
    /// its name, and either memo's magic (whole, or cut short) or, where
    /// damage hit the magic, the key its name says in the header's key
    /// field. A user's file that happens to carry an entry's name has
    /// neither.
    Damaged,
}

/// What a removal did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Removal {
    /// Files removed.
    pub files: u64,
    /// Names left because memo cannot prove they are its own.
    pub kept: u64,
}

impl std::ops::AddAssign for Removal {
    fn add_assign(&mut self, other: Removal) {
        self.files += other.files;
        self.kept += other.kept;
    }
}

/// Removes the entry `name` (an entry file name) from the open version
/// directory `dir`. `Ok(false)`: nothing there, or not memo's (kept).
pub(crate) fn remove_entry(dir: impl AsFd, name: &CStr, proof: Proof) -> rustix::io::Result<bool> {
    let Some(key) = layout::parse_entry_name(name.to_bytes()) else {
        return Ok(false);
    };
    let owned = match proof {
        Proof::Damaged => looks_like_damaged_entry(&dir, name, key)?,
        Proof::Format => starts_like_entry(&dir, name, false)?,
    };
    if !owned {
        return Ok(false);
    }
    match rustix::fs::unlinkat(&dir, name, AtFlags::empty()) {
        Ok(()) => Ok(true),
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes the temp file `name` from the open version directory `dir`: a
/// write in progress, or left by a crash. It may be shorter than the magic
/// (a crash right after creating it) but never holds anything else.
pub(crate) fn remove_temp(dir: impl AsFd, name: &str) -> rustix::io::Result<bool> {
    let Ok(c_name) = std::ffi::CString::new(name) else {
        return Ok(false);
    };
    if !layout::is_temp_name(name) || !starts_like_entry(&dir, &c_name, true)? {
        return Ok(false);
    }
    match rustix::fs::unlinkat(&dir, name, AtFlags::empty()) {
        Ok(()) => Ok(true),
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes the blob `name` from the open blob area `dir` (see
/// `store/blobs.rs`), or a blob's temp file: a regular file with a blob's
/// name (or a blob temp file's) in memo's blob area. Blobs have no magic
/// of their own (they are the array's bytes); their place and names are the
/// proof.
pub(crate) fn remove_blob(dir: impl AsFd, name: &str) -> rustix::io::Result<bool> {
    if layout::parse_blob_name(name).is_none() && !layout::is_blob_temp_name(name) {
        return Ok(false);
    }
    let Ok(c_name) = std::ffi::CString::new(name) else {
        return Ok(false);
    };
    if open_regular(&dir, &c_name)?.is_none() {
        return Ok(false);
    }
    match rustix::fs::unlinkat(&dir, name, AtFlags::empty()) {
        Ok(()) => Ok(true),
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes a code-version directory `name` of the open function directory
/// `function`: its entries and temp files, then the directory if nothing
/// else is left in it.
pub(crate) fn remove_version(function: impl AsFd, name: &str) -> io::Result<Removal> {
    let mut removal = Removal::default();
    let Some(dir) = open_own_dir(&function, name, layout::is_version_dir(name), &mut removal)?
    else {
        return Ok(removal);
    };
    for child in children(&dir)? {
        let removed = match child.to_str().ok() {
            Some(text) if layout::is_temp_name(text) => remove_temp(&dir, text)?,
            _ => remove_entry(&dir, &child, Proof::Format)?,
        };
        if removed {
            removal.files += 1;
        } else if exists(&dir, &child) {
            removal.kept += 1;
        }
    }
    remove_dir_if_empty(&function, name)?;
    Ok(removal)
}

/// Removes the function directory `name` of the open cache directory
/// `root`: every code version, its `.current`, then the directory itself
/// if nothing else is left in it.
pub(crate) fn remove_function(root: impl AsFd, name: &str) -> io::Result<Removal> {
    let mut removal = Removal::default();
    let Some(function) = open_own_dir(&root, name, layout::is_function_dir(name), &mut removal)?
    else {
        return Ok(removal);
    };
    for child in children(&function)? {
        let Some(text) = child.to_str().ok() else {
            removal.kept += 1;
            continue;
        };
        if layout::is_version_dir(text) {
            removal += remove_version(&function, text)?;
        } else if text == layout::CURRENT_FILE || layout::is_current_temp_name(text) {
            if is_small_regular(&function, &child)? {
                match rustix::fs::unlinkat(&function, &child, AtFlags::empty()) {
                    Ok(()) => removal.files += 1,
                    Err(Errno::NOENT) => {}
                    Err(e) => return Err(e.into()),
                }
            } else {
                removal.kept += 1;
            }
        } else {
            removal.kept += 1;
        }
    }
    remove_dir_if_empty(&root, name)?;
    Ok(removal)
}

/// Removes every function directory of the open cache directory `root`
/// (markers, locks and usage records stay).
pub(crate) fn remove_functions(root: impl AsFd) -> io::Result<Removal> {
    let mut removal = Removal::default();
    for child in children(&root)? {
        match child.to_str().ok() {
            Some(name) if layout::is_top_level_name(name) => {}
            Some(name) if layout::is_function_dir(name) => {
                removal += remove_function(&root, name)?;
            }
            _ => removal.kept += 1,
        }
    }
    Ok(removal)
}

/// `rmdir`: a directory still holding anything (a user's file, or an entry
/// a concurrent writer just added) stays, and that is no failure.
pub(crate) fn remove_dir_if_empty(parent: impl AsFd, name: &str) -> io::Result<bool> {
    match rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR) {
        Ok(()) => Ok(true),
        Err(Errno::NOENT | Errno::NOTEMPTY | Errno::EXIST) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Opens the directory `name` in `parent` if it is one of memo's
/// (`named_as_ours`: its name is one memo gives) and really a directory;
/// anything else there is counted as kept. `None`: nothing to walk.
fn open_own_dir(
    parent: impl AsFd,
    name: &str,
    named_as_ours: bool,
    removal: &mut Removal,
) -> io::Result<Option<OwnedFd>> {
    if !named_as_ours {
        removal.kept += 1;
        return Ok(None);
    }
    match open_dir(&parent, name) {
        Ok(dir) => Ok(Some(dir)),
        Err(Errno::NOENT) => Ok(None),
        // A file or a link where a directory of memo's would be.
        Err(Errno::NOTDIR | Errno::LOOP) => {
            removal.kept += 1;
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

fn open_dir(parent: impl AsFd, name: &str) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// The names in an open directory, without `.` and `..`.
fn children(dir: impl AsFd) -> io::Result<Vec<std::ffi::CString>> {
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name != c"." && name != c".." {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// Whether anything is at `name` in `dir` (a link counts; not followed).
pub(crate) fn exists(dir: impl AsFd, name: &CStr) -> bool {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok()
}

/// Opens a file as every file in a cache is opened (`read.rs`): never
/// following a link, never blocking on a FIFO; `None` unless it is a
/// regular file.
fn open_regular(dir: impl AsFd, name: &CStr) -> rustix::io::Result<Option<(OwnedFd, u64)>> {
    let Ok(name) = name.to_str() else {
        return Ok(None);
    };
    match super::read::open_regular(dir, name) {
        Ok(found) => Ok(found),
        Err(e) => match e.raw_os_error() {
            Some(code) => Err(rustix::io::Errno::from_raw_os_error(code)),
            // Not a regular file.
            None => Ok(None),
        },
    }
}

/// The header's key field: where an entry says which key it holds.
const KEY_FIELD: std::ops::Range<usize> = 32..48;

fn looks_like_damaged_entry(dir: impl AsFd, name: &CStr, key: u128) -> rustix::io::Result<bool> {
    let Some((file, _)) = open_regular(dir, name)? else {
        return Ok(false);
    };
    let mut start = [0u8; KEY_FIELD.end];
    let read = rustix::io::pread(&file, &mut start, 0)?;
    let magic = read.min(MAGIC.len());
    Ok(start[..magic] == MAGIC[..magic]
        || (read == KEY_FIELD.end && start[KEY_FIELD] == key.to_le_bytes()))
}

fn is_small_regular(dir: impl AsFd, name: &CStr) -> rustix::io::Result<bool> {
    Ok(open_regular(dir, name)?.is_some_and(|(_, len)| len <= layout::MARKER_CAP as u64))
}

/// Whether `name` is a regular file starting with memo's magic (or, with
/// `partial`, with a prefix of it, as a write cut short leaves).
fn starts_like_entry(dir: impl AsFd, name: &CStr, partial: bool) -> rustix::io::Result<bool> {
    let Some((file, _)) = open_regular(dir, name)? else {
        return Ok(false);
    };
    let mut start = [0u8; MAGIC.len()];
    let read = rustix::io::pread(&file, &mut start, 0)?;
    Ok(start[..read] == MAGIC[..read] && (partial || read == MAGIC.len()))
}

/// Removes the compute-once leases of a shared store that are provably
/// memo's and over: named as leases in `.leases/`, holding memo's lease
/// format, and last written (by the store's clock) longer ago than their
/// lease time plus the clock allowance (`store/lease.rs`). A live lease
/// stays: it is a computation running, and removing it would let a second
/// machine compute the key. Returns how many were removed.
///
/// A lease taken over between its read here and its removal is removed
/// all the same; its key may then be computed twice (never wrongly).
pub(crate) fn remove_stale_leases(store: &dyn Store) -> io::Result<u64> {
    let now = std::time::SystemTime::now();
    let mut stale = Vec::new();
    for object in store.list(layout::LEASE_DIR)? {
        // Named as a lease, and too old to be live whatever its terms say,
        // before it is worth a read.
        if layout::parse_lease_path(&object.path).is_none()
            || !over_by_wall_clock(object.modified, MIN_LEASE_TIME, now)
        {
            continue;
        }
        let Some(bytes) = store.get(&object.path)? else {
            continue;
        };
        if Terms::parse(&bytes)
            .is_some_and(|terms| over_by_wall_clock(object.modified, terms.time, now))
        {
            stale.push(object.path);
        }
    }
    let failed = store.delete_many(&stale);
    Ok((stale.len() - failed.len()) as u64)
}

/// Removes every object of a shared store that has one of memo's names in
/// one of memo's places (`layout::is_store_object`: the marker, usage
/// records, `.current`, entries and their temp objects); anything else
/// under the store's prefix stays, as do leases and blobs, which have
/// their own rules ([`remove_stale_leases`], `shared_blobs::sweep`).
/// Returns the objects that could not be removed.
pub(crate) fn remove_store_objects(store: &dyn Store) -> io::Result<Vec<String>> {
    let paths: Vec<String> = store
        .list("")?
        .into_iter()
        .map(|object| object.path)
        .filter(|path| layout::is_store_object(path))
        .collect();
    Ok(store.delete_many(&paths))
}

/// Removes blobs and use marks of a shared store that a sweep chose
/// (`shared_blobs.rs`), each only if it is named as one in `.blobs/`.
/// Returns those that could not be removed.
pub(crate) fn remove_store_blobs(store: &dyn Store, paths: &[String]) -> Vec<String> {
    let owned: Vec<String> = paths
        .iter()
        .filter(|path| {
            path.strip_prefix(layout::BLOBS_DIR)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|name| {
                    layout::parse_blob_name(name).is_some()
                        || layout::parse_blob_mark_name(name).is_some()
                })
        })
        .cloned()
        .collect();
    store.delete_many(&owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(dir: &std::path::Path) -> OwnedFd {
        rustix::fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap()
    }

    #[test]
    fn only_memo_files_go_and_foreign_ones_keep_their_directories() {
        let dir = tempfile::tempdir().unwrap();
        let version = dir.path().join("my_crate.f/0123456789abcdef");
        std::fs::create_dir_all(&version).unwrap();
        let entry = format!("{:032x}.memo", 1);
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(b"rest of an entry");
        std::fs::write(version.join(&entry), &bytes).unwrap();
        // Named like an entry, but not one.
        std::fs::write(version.join(format!("{:032x}.memo", 2)), "my notes").unwrap();
        std::fs::write(version.join(layout::temp_name(3)), &MAGIC[..3]).unwrap();
        std::fs::write(
            dir.path().join("my_crate.f/.current"),
            "0123456789abcdef\nf\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("src/.git")).unwrap();
        std::fs::write(dir.path().join("Cargo.toml"), "").unwrap();

        let removal = remove_functions(root(dir.path())).unwrap();
        assert_eq!(removal.files, 3, "{removal:?}");
        assert!(!version.join(&entry).exists());
        assert!(version.join(format!("{:032x}.memo", 2)).exists());
        assert!(!dir.path().join("my_crate.f/.current").exists());
        assert!(dir.path().join("src/.git").is_dir());
        assert!(dir.path().join("Cargo.toml").exists());
    }

    #[test]
    fn emptied_directories_go() {
        let dir = tempfile::tempdir().unwrap();
        let version = dir.path().join("f/0123456789abcdef");
        std::fs::create_dir_all(&version).unwrap();
        std::fs::write(version.join(format!("{:032x}.memo", 1)), MAGIC).unwrap();
        let removal = remove_functions(root(dir.path())).unwrap();
        assert_eq!(removal, Removal { files: 1, kept: 0 });
        assert!(!dir.path().join("f").exists());
    }

    #[test]
    fn links_are_never_followed_or_taken_for_entries() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("precious.memo");
        std::fs::write(&target, MAGIC).unwrap();
        let version = dir.path().join("f/0123456789abcdef");
        std::fs::create_dir_all(&version).unwrap();
        std::os::unix::fs::symlink(&target, version.join(format!("{:032x}.memo", 1))).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("g")).unwrap();
        remove_functions(root(dir.path())).unwrap();
        assert!(target.exists());
        assert!(std::fs::symlink_metadata(dir.path().join("g")).is_ok());
    }
}
