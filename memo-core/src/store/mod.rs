//! Where entries live.
//!
//! A store is a flat namespace of immutable entries addressed by relative,
//! `/`-separated paths (see [`crate::key`]). The runtime needs little from
//! it: read a whole entry, replace an entry atomically (a reader sees the old
//! bytes or the new ones, never a mix), and clear everything. The local
//! filesystem is the default store.

mod beneath;
mod fs;
mod lock;

use std::fmt::Debug;
use std::io;

pub(crate) use fs::FsStore;

use crate::hash::Digest;

/// An entry as read from a store.
#[derive(Debug)]
pub(crate) struct StoredEntry {
    /// The start of the entry: all of it when small, else at least its
    /// header, metadata and output.
    pub bytes: Vec<u8>,
    /// The entry's full length.
    pub len: u64,
    /// The open entry file, to map or read its arrays from.
    pub file: Option<std::fs::File>,
}

/// A held compute-once lock; dropping it lets the next caller of its key in.
pub(crate) struct KeyGuard(#[allow(dead_code)] Box<dyn Send>);

/// The operations the call path needs from a store.
pub(crate) trait Store: Send + Sync + Debug {
    /// Reads an entry (its head; large arrays after it stay in the file
    /// until they are mapped or read); `Ok(None)` when there is none.
    fn read(&self, path: &str) -> io::Result<Option<StoredEntry>>;
    /// Stores the concatenation of `parts` at `path`, replacing any entry
    /// there, atomically.
    fn write(&self, path: &str, parts: &[&[u8]]) -> io::Result<()>;
    /// Removes every entry.
    fn clear(&self) -> io::Result<()>;
    /// Waits until no other caller (thread or process) computes `key`, and
    /// keeps the others out until the guard is dropped.
    fn lock(&self, key: Digest) -> io::Result<KeyGuard>;
}
