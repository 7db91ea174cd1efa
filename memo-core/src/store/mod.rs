//! Where entries live.
//!
//! A store is a flat namespace of immutable entries addressed by relative,
//! `/`-separated paths (see [`crate::key`]). The runtime needs little from
//! it: read a whole entry, replace an entry atomically (a reader sees the old
//! bytes or the new ones, never a mix), and clear everything. The local
//! filesystem is the default store.

mod fs;

use std::fmt::Debug;
use std::io;

pub(crate) use fs::FsStore;

/// The operations the call path needs from a store.
pub(crate) trait Store: Send + Sync + Debug {
    /// Reads a whole entry; `Ok(None)` when there is none.
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>>;
    /// Stores `bytes` at `path`, replacing any entry there, atomically.
    fn write(&self, path: &str, bytes: &[u8]) -> io::Result<()>;
    /// Removes every entry.
    fn clear(&self) -> io::Result<()>;
}
