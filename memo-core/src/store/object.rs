//! The public, object-store-shaped [`Store`] trait: what memo needs from a
//! place that keeps a cache shared between machines.

use std::fmt::Debug;
use std::io;
use std::time::SystemTime;

use super::versioned::VersionedStore;

/// A place where cache entries live, shaped like an object store: a flat
/// namespace of immutable byte strings under relative, `/`-separated paths.
///
/// memo's own stores implement it — [`FsStore`](super::FsStore) (a local
/// or network directory) and, with the `s3` feature,
/// `S3Store` — and so can yours: a store is given to
/// [`Memory::with_store`](crate::Memory::with_store), which puts a *local
/// tier* (a cache directory on local disk) in front of it. Hits are served
/// from the local tier when the entry is there (so memory maps work), and
/// fetched from the store into it when not; new results go to both. The
/// guide to writing one, with an example, is `docs/backends.md`.
///
/// # Paths
///
/// memo uses paths made of `[A-Za-z0-9._-]` segments joined by `/`, never
/// empty, never starting or ending with `/`, without `.` or `..` segments:
/// `<function>/<code version>/<key>.memo` for entries,
/// `<function>/.current`, `.usage/<name>` for usage records,
/// `.leases/<key>.lease` for compute-once leases (through
/// [`versioned`](Store::versioned) only), `.blobs/<digest>.blob` for large
/// arrays stored once by content and `.blobs/<digest>.used` for their use
/// marks, and the marker `CACHEDIR.TAG`. A store maps them below its own root (a bucket prefix, a
/// directory).
///
/// # Contract
///
/// - **Atomic writes.** A reader sees the whole of an object or none of it,
///   never a part: [`put`](Store::put) replaces an object in one step.
/// - **Create-once.** [`put_if_absent`](Store::put_if_absent) creates an
///   object only if none exists, atomically with respect to other
///   `put_if_absent` calls: of two concurrent writers exactly one gets
///   [`Put::Created`]. This is what makes the first stored result the one
///   every machine sees. A store that cannot do this atomically must say so
///   in its documentation (memo then still works: two machines may store the
///   same entry, one replacing the other, and each copy is whole).
/// - **Read-after-write.** Once `put` or `put_if_absent` returned, `get`
///   and `list` from anywhere see the object.
/// - **Errors are errors.** A missing object is `Ok(None)` from
///   [`get`](Store::get), and `Ok(())` from [`delete`](Store::delete); an
///   `Err` means the store could not answer (network, permissions), and
///   memo then runs the call without the store, reporting it once.
///
/// Every method is blocking; memo calls them from the thread of the cached
/// call (an async store blocks on its own runtime, as `S3Store` does).
pub trait Store: Send + Sync + Debug + 'static {
    /// Where the store keeps its objects, for messages and for naming its
    /// local tier: `s3://bucket/prefix`, `/mnt/shared/cache`.
    fn location(&self) -> String;

    /// The object at `path`, whole; `Ok(None)` if there is none.
    fn get(&self, path: &str) -> io::Result<Option<Vec<u8>>>;

    /// Writes the object at `path` into `out` as it arrives; `Ok(false)`
    /// (with nothing written) if there is none. memo fetches entries into
    /// its local tier with this, so an entry of gigabytes of arrays never has
    /// to fit in memory. The default calls [`get`](Store::get).
    fn get_to(&self, path: &str, out: &mut (dyn io::Write + Send)) -> io::Result<bool> {
        match self.get(path)? {
            Some(bytes) => out.write_all(&bytes).map(|()| true),
            None => Ok(false),
        }
    }

    /// Stores the concatenation of `parts` at `path`, replacing any object
    /// there, atomically. (Parts, so that an entry's header, output and
    /// arrays need not be copied into one buffer first.)
    fn put(&self, path: &str, parts: &[&[u8]]) -> io::Result<()>;

    /// Stores the concatenation of `parts` at `path` unless an object is
    /// there already: [`Put::Created`], or [`Put::Exists`] leaving the
    /// existing object untouched.
    fn put_if_absent(&self, path: &str, parts: &[&[u8]]) -> io::Result<Put>;

    /// The size and time of the object at `path`, without its bytes;
    /// `Ok(None)` if there is none. memo asks this before uploading a large
    /// array another machine may have stored already (`docs/backends.md`).
    /// The default reads the whole object with [`get`](Store::get) and
    /// reports the current time; stores that can ask cheaply (S3's `HEAD`)
    /// should.
    fn head(&self, path: &str) -> io::Result<Option<ObjectMeta>> {
        Ok(self
            .get(path)?
            .map(|bytes| ObjectMeta::new(path, bytes.len() as u64, std::time::SystemTime::now())))
    }

    /// Removes the object at `path`; `Ok(())` if there is none.
    fn delete(&self, path: &str) -> io::Result<()>;

    /// Removes the objects at `paths`; returns those that could not be
    /// removed (a missing one counts as removed). The default calls
    /// [`delete`](Store::delete) for each; stores with a bulk operation
    /// (S3's `DeleteObjects`) use it.
    fn delete_many(&self, paths: &[String]) -> Vec<String> {
        paths
            .iter()
            .filter(|path| self.delete(path).is_err())
            .cloned()
            .collect()
    }

    /// Every object below the directory `prefix` (`""`: all of them), at
    /// any depth, with its size and when it was last written, in any order.
    /// memo records last use itself (see `docs/format.md`), so a store
    /// needs no access times.
    fn list(&self, prefix: &str) -> io::Result<Vec<ObjectMeta>>;

    /// The store's conditional writes by version, if it has them: with
    /// them, machines sharing the store compute each key once between them
    /// (a lease per key, see `docs/backends.md`); without (the default),
    /// once per machine.
    fn versioned(&self) -> Option<&dyn VersionedStore> {
        None
    }
}

/// A shared store is a store: one client can serve several `Memory`s.
impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn location(&self) -> String {
        (**self).location()
    }
    fn get(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        (**self).get(path)
    }
    fn get_to(&self, path: &str, out: &mut (dyn io::Write + Send)) -> io::Result<bool> {
        (**self).get_to(path, out)
    }
    fn put(&self, path: &str, parts: &[&[u8]]) -> io::Result<()> {
        (**self).put(path, parts)
    }
    fn put_if_absent(&self, path: &str, parts: &[&[u8]]) -> io::Result<Put> {
        (**self).put_if_absent(path, parts)
    }
    fn head(&self, path: &str) -> io::Result<Option<ObjectMeta>> {
        (**self).head(path)
    }
    fn delete(&self, path: &str) -> io::Result<()> {
        (**self).delete(path)
    }
    fn delete_many(&self, paths: &[String]) -> Vec<String> {
        (**self).delete_many(paths)
    }
    fn list(&self, prefix: &str) -> io::Result<Vec<ObjectMeta>> {
        (**self).list(prefix)
    }
    fn versioned(&self) -> Option<&dyn VersionedStore> {
        (**self).versioned()
    }
}

/// What [`Store::put_if_absent`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// The object was created.
    Created,
    /// An object was there already; it was left as it was.
    Exists,
}

/// One object, as [`Store::list`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Its path, relative to the store's root (as given to
    /// [`Store::put`]).
    pub path: String,
    /// Its length in bytes.
    pub size: u64,
    /// When it was last written.
    pub modified: SystemTime,
}

impl ObjectMeta {
    /// An object at `path` of `size` bytes, last written at `modified`.
    pub fn new(path: impl Into<String>, size: u64, modified: SystemTime) -> ObjectMeta {
        ObjectMeta {
            path: path.into(),
            size,
            modified,
        }
    }
}

/// Whether `path` is a path memo would use (see [`Store`]): stores may
/// check it before touching anything.
pub fn valid_path(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

/// The error for a path memo would never use.
pub(crate) fn invalid_path(path: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{path:?} is not a store path"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_valid() {
        for good in [
            "a",
            "my_crate.f/0123456789abcdef/00ff.memo",
            ".usage/summary",
            "f/.current",
        ] {
            assert!(valid_path(good), "{good}");
        }
        for bad in [
            "", "/a", "a/", "a//b", "../a", "a/../b", "a/./b", "a b", "a\\b", "a\0",
        ] {
            assert!(!valid_path(bad), "{bad:?}");
        }
    }
}
