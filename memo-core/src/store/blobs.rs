//! The blob area of a cache directory: large arrays stored once per content
//! digest, whatever function, key or code version produced them.
//!
//! `<cache>/.blobs/<32 hex>.blob` holds the bytes of an array whose
//! [`run_digest`](crate::hash::run_digest) the name gives; entries list the
//! digests they refer to (`docs/format.md`). Blobs are immutable: written
//! to an anonymous file with the digest computed inside the write loop,
//! then linked under their name — if that name exists, the existing blob
//! stays and the new bytes are dropped.
//!
//! **Reference counting.** A blob goes when no entry refers to it, and
//! only then, by a *sweep* (at the end of clear, forget, gc, limits and
//! verify's repair). `.blobs/lock` makes that safe against concurrent
//! writers: a writer holds it shared from its first blob until its entry is
//! linked; a sweep holds it exclusively while it reads which blobs the
//! entries in the directory refer to and removes the others. So a sweep
//! never sees a blob whose entry is about to appear, and a writer never
//! links an entry whose blob a sweep already chose. Readers take no lock:
//! a blob removed under an open map stays valid for that map (Unix keeps an
//! unlinked file's data while it is mapped), and one removed between a
//! reader opening an entry and opening its blob makes that read a miss.
//! The kernel releases the lock of a process that dies.

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use super::fs::{FsStore, read_entry};
use super::{beneath, owned, read};
use crate::array::{BlobReader, BlobRef, BlobWriter};
use crate::entry::Entry;
use crate::hash::{self, Digest, PARALLEL, RunDigester};
use crate::layout::{self, BLOB_LOCK, BLOBS_DIR};
use crate::sys;

/// Blobs smaller than [`PARALLEL`] are hashed in the writing thread, each
/// piece of this size just after it is written, while it is still in cache.
const PIECE: usize = 1 << 20;

/// Larger ones are written in pieces of this size, while helper threads
/// hash them (see [`write_hashing`]).
const LARGE_PIECE: usize = 4 << 20;

impl FsStore {
    /// The blob area, opened (and created if `create`); `None` if missing.
    fn blob_dir(&self, create: bool) -> io::Result<Option<OwnedFd>> {
        open_blob_dir(self.root_dir(), create.then(|| self.dir_mode()))
    }

    /// A writer to the blob area for one entry (see the module docs).
    pub(crate) fn blob_writer(&self) -> FsBlobWriter<'_> {
        FsBlobWriter {
            store: self,
            held: OnceCell::new(),
        }
    }
}

fn open_blob_dir(root: &OwnedFd, create: Option<u32>) -> io::Result<Option<OwnedFd>> {
    match create {
        Some(mode) => beneath::create_dirs(root, BLOBS_DIR, mode).map(Some),
        None => match beneath::open(
            root,
            BLOBS_DIR,
            OFlags::RDONLY | OFlags::DIRECTORY,
            Mode::empty(),
        ) {
            Ok(dir) => Ok(Some(dir)),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(e.into()),
        },
    }
}

fn open_lock(dir: &OwnedFd, mode: Mode) -> io::Result<OwnedFd> {
    Ok(beneath::open(
        dir,
        BLOB_LOCK,
        OFlags::RDWR | OFlags::CREATE,
        mode,
    )?)
}

/// Stores the blobs of one entry; holds the blob area's lock shared from
/// its first blob until it is dropped, after the entry is linked.
pub(crate) struct FsBlobWriter<'a> {
    store: &'a FsStore,
    /// The blob area and its lock file (locked shared), once used.
    held: OnceCell<(OwnedFd, OwnedFd)>,
}

impl FsBlobWriter<'_> {
    fn dir(&self) -> io::Result<&OwnedFd> {
        if let Some((dir, _)) = self.held.get() {
            return Ok(dir);
        }
        let dir = self
            .store
            .blob_dir(true)?
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        let lock = open_lock(&dir, self.store.file_mode())?;
        sys::lock_shared(&lock, true)?;
        Ok(&self.held.get_or_init(|| (dir, lock)).0)
    }
}

impl BlobWriter for FsBlobWriter<'_> {
    fn put(&self, bytes: &[u8], known: Option<Digest>) -> io::Result<Digest> {
        let dir = self.dir()?;
        if let Some(digest) = known {
            // The array came from a cache: if its blob is here, done.
            let name = layout::blob_name(digest);
            let stat = rustix::fs::statat(dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW);
            if stat.is_ok_and(|stat| stat.st_size as u64 == bytes.len() as u64) {
                return Ok(digest);
            }
        }
        let mut digest = None;
        self.store
            .create_named(dir, layout::blob_temp_name, &mut |file| {
                let written = write_hashing(file, bytes)?;
                digest = Some(written);
                Ok(Some(layout::blob_name(written)))
            })?;
        // Linked, or stored by another writer already: either way it is there.
        digest.ok_or_else(|| io::Error::other("a blob was not written"))
    }
}

/// Writes `bytes` to the new, empty `file` and returns their digest,
/// computed during the writes: one pass over memory for a small blob; for
/// one of [`PARALLEL`] bytes or more, the other cores hash it while this
/// thread writes, and this one hashes what they have not reached when its
/// writes are done. The file's blocks are reserved first
/// ([`sys::preallocate`]).
fn write_hashing(file: &OwnedFd, bytes: &[u8]) -> io::Result<Digest> {
    sys::preallocate(file, bytes.len() as u64);
    if bytes.len() < PARALLEL {
        let mut digester = RunDigester::new();
        for piece in bytes.chunks(PIECE) {
            sys::write_all(file, piece)?;
            digester.update(piece);
        }
        return Ok(digester.finish());
    }
    hash::digest_beside(bytes, || {
        bytes
            .chunks(LARGE_PIECE)
            .try_for_each(|piece| sys::write_all(file, piece))
    })
}

impl BlobReader for FsStore {
    fn open(&self, digest: Digest) -> io::Result<Option<(File, u64)>> {
        let found = read::open_regular(self.root_dir(), &layout::blob_path(digest))?;
        Ok(found.map(|(file, len)| (File::from(file), len)))
    }

    fn corrupt(&self, digest: Digest) {
        if let Ok(Some(dir)) = self.blob_dir(false) {
            let _ = owned::remove_blob(&dir, &layout::blob_name(digest));
        }
    }
}

/// What a sweep of the blob area did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BlobSweep {
    /// Blobs (and temp files left by crashed writers) removed.
    pub removed: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// One file in the blob area.
struct Found {
    name: String,
    digest: Option<Digest>,
    size: u64,
    disk: u64,
}

/// The blobs and blob temp files of the open blob area `dir`.
fn list(dir: &OwnedFd) -> io::Result<Vec<Found>> {
    Ok(names(dir)?
        .into_iter()
        .filter_map(|name| {
            let digest = layout::parse_blob_name(&name);
            if digest.is_none() && !layout::is_blob_temp_name(&name) {
                return None;
            }
            let stat = rustix::fs::statat(dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW).ok()?;
            Some(Found {
                name,
                digest,
                size: stat.st_size as u64,
                disk: stat.st_blocks as u64 * 512,
            })
        })
        .collect())
}

/// The blobs of the cache directory `root`: their length and bytes on
/// disk, by digest.
pub(crate) fn sizes(root: &OwnedFd) -> io::Result<HashMap<Digest, (u64, u64)>> {
    let Some(dir) = open_blob_dir(root, None)? else {
        return Ok(HashMap::new());
    };
    Ok(list(&dir)?
        .into_iter()
        .filter_map(|found| Some((found.digest?, (found.size, found.disk))))
        .collect())
}

/// The blobs that the entry `name` of the open version directory `dir`
/// refers to; none if it is gone or does not parse.
pub(crate) fn entry_refs(dir: &OwnedFd, name: &str) -> Vec<BlobRef> {
    let Ok(Some(file)) = read::open_nonblocking(dir, name) else {
        return Vec::new();
    };
    let Ok(stored) = read_entry(file) else {
        return Vec::new();
    };
    Entry::parse_head(&stored.bytes, stored.len, None)
        .map(|entry| entry.blob_refs().collect())
        .unwrap_or_default()
}

/// A blob whose bytes do not match the digest its name gives.
#[derive(Debug, Clone)]
pub(crate) struct Damaged {
    /// Its path from the cache directory.
    pub path: String,
    pub size: u64,
    /// Whether it was removed (with `repair`).
    pub removed: bool,
}

/// Reads every blob of the cache directory `root` and checks it against
/// its name; with `repair`, removes the damaged ones (the entries that
/// refer to them are recomputed when next called).
pub(crate) fn verify(root: &OwnedFd, repair: bool) -> io::Result<Vec<Damaged>> {
    let Some(dir) = open_blob_dir(root, None)? else {
        return Ok(Vec::new());
    };
    let mut damaged = Vec::new();
    for found in list(&dir)? {
        let Some(digest) = found.digest else {
            continue;
        };
        let Some((file, len)) = read::open_regular(&dir, &found.name)? else {
            continue;
        };
        let mut digester = RunDigester::new();
        let mut at = 0;
        while at < len {
            let piece = read::read_range(&file, at, (len - at).min(LARGE_PIECE as u64))?;
            if piece.is_empty() {
                break;
            }
            at += piece.len() as u64;
            digester.update(&piece);
        }
        if digester.len() != len || digester.finish() != digest {
            let removed = repair && owned::remove_blob(&dir, &found.name)?;
            damaged.push(Damaged {
                path: layout::blob_path(digest),
                size: len,
                removed,
            });
        }
    }
    Ok(damaged)
}

/// Removes every blob of the cache directory `root` that no entry refers
/// to, and temp files of crashed writers (see the module docs). Reads the
/// head of every entry, and only when there are blobs.
pub(crate) fn sweep(root: &OwnedFd, mode: Mode) -> io::Result<BlobSweep> {
    let Some(dir) = open_blob_dir(root, None)? else {
        return Ok(BlobSweep::default());
    };
    if list(&dir)?.is_empty() {
        return Ok(BlobSweep::default());
    }
    let lock = open_lock(&dir, mode)?;
    sys::lock_exclusive(&lock, true)?;
    // No writer is between storing a blob and linking its entry now.
    let referenced = referenced(root)?;
    let mut swept = BlobSweep::default();
    for found in list(&dir)? {
        let unused = found
            .digest
            .is_none_or(|digest| !referenced.contains(&digest));
        if unused && owned::remove_blob(&dir, &found.name)? {
            swept.removed += 1;
            swept.bytes += found.size;
        }
    }
    Ok(swept)
}

/// The digests of the blobs that the entries of the cache directory `root`
/// refer to. An entry that does not parse is unusable (it is recomputed
/// when read): its references protect nothing.
fn referenced(root: &OwnedFd) -> io::Result<HashSet<Digest>> {
    let mut referenced = HashSet::new();
    for function in names(root)? {
        if !layout::is_function_dir(&function) {
            continue;
        }
        let Ok(function_dir) = sys::open_dir(root, &function) else {
            continue;
        };
        for version in names(&function_dir)? {
            if !layout::is_version_dir(&version) {
                continue;
            }
            let Ok(version_dir) = sys::open_dir(&function_dir, &version) else {
                continue;
            };
            for name in names(&version_dir)? {
                if layout::parse_entry_name(name.as_bytes()).is_none() {
                    continue;
                }
                referenced.extend(
                    entry_refs(&version_dir, &name)
                        .into_iter()
                        .map(|blob| blob.digest),
                );
            }
        }
    }
    Ok(referenced)
}

fn names(dir: &OwnedFd) -> io::Result<Vec<String>> {
    // From the start, however often this descriptor was listed before.
    rustix::fs::seek(dir, rustix::fs::SeekFrom::Start(0))?;
    let mut names = Vec::new();
    sys::list(dir, |name, _, _| {
        if let Ok(name) = name.to_str() {
            names.push(name.to_owned());
        }
    })?;
    Ok(names)
}

impl FsStore {
    /// Stores a blob that `fill` writes into the file it is given, under
    /// the digest `fill` returns (`None`: nothing is stored; `fill` may be
    /// called twice, as for [`create_named`](FsStore::create_named)). A
    /// blob of that digest already there stays. For blobs fetched from a
    /// shared store (`shared_blobs.rs`), whose entry is already linked, so
    /// a sweep keeps them without the writers' lock.
    pub(crate) fn store_blob_with(
        &self,
        fill: &mut dyn FnMut(&OwnedFd) -> io::Result<Option<Digest>>,
    ) -> io::Result<bool> {
        let dir = self
            .blob_dir(true)?
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        let outcome = self.create_named(&dir, layout::blob_temp_name, &mut |file| {
            Ok(fill(file)?.map(layout::blob_name))
        })?;
        Ok(outcome != super::create::Outcome::Nothing)
    }
}
