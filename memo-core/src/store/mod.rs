//! Where entries live: the [`Store`] trait and memo's stores.
//!
//! A cache is a flat namespace of immutable entries addressed by relative,
//! `/`-separated paths (see `docs/format.md`). Two layers keep it:
//!
//! - [`Store`], public and shaped like an object store (`get`, `put`,
//!   `put_if_absent`, `delete`, `list`): what a place must offer to hold a
//!   cache that several machines share. [`FsStore`] (a directory) and, with
//!   the `s3` feature, `S3Store` implement it, and so can yours
//!   (`docs/backends.md`).
//! - The call path's own, internal interface, which a local directory
//!   serves at the speed of the file system — a hit is one `openat2`, one
//!   `read`, one `close`, and arrays are memory-mapped from the entry file.
//!   A [`Memory`](crate::Memory) on a directory uses the directory directly;
//!   a `Memory` on a [`Store`] puts a *local tier* in front of it: hits come
//!   from local disk when the entry is there, and are fetched into it from
//!   the store when not; new results go to both.
//!
//! ```no_run
//! # #[cfg(feature = "s3")] {
//! use memory::Memory;
//!
//! // Endpoint, region and credentials from the usual AWS_* variables.
//! let shared = Memory::new("s3://my-bucket/memo");
//! // Or explicitly, with the local tier somewhere of your choosing.
//! let store = memory::store::S3Store::builder()
//!     .bucket("my-bucket")
//!     .prefix("memo")
//!     .endpoint("http://127.0.0.1:9000")
//!     .build()
//!     .unwrap();
//! let shared = Memory::with_store(store).local_tier("/scratch/memo-tier");
//! # }
//! ```

mod beneath;
pub(crate) mod blobs;
pub(crate) mod claim;
mod create;
mod fs;
pub(crate) mod in_process;
mod lease;
mod lock;
pub(crate) mod nearby;
mod object;
pub(crate) mod owned;
pub(crate) mod read;
mod remote;
#[cfg(feature = "s3")]
mod runtime;
#[cfg(feature = "s3")]
mod s3;
pub(crate) mod shared_blobs;
mod tier;
mod versioned;

use std::fmt::Debug;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use blobs::BlobSweep;
pub use claim::NotACache;
pub use fs::FsStore;
pub(crate) use lease::MIN_LEASE_TIME;
pub use object::{ObjectMeta, Put, Store, valid_path};
pub use remote::{LOCAL_TIER_ENV, STORE_READ_ONLY_ENV};
pub(crate) use remote::{Remote, is_url, open, open_url};
#[cfg(feature = "s3")]
pub use s3::{S3Store, S3StoreBuilder};
pub use shared_blobs::BLOB_GRACE_ENV;
pub use versioned::{ObjectVersion, VersionedStore};

use crate::array::{BlobReader, BlobWriter};
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

/// The operations the call path needs from a store: what a local
/// directory ([`FsStore`]) and a tier in front of a [`Store`] provide.
pub(crate) trait EntryStore: Send + Sync + Debug {
    /// Reads an entry (its head; large arrays after it stay in the file
    /// until they are mapped or read); `Ok(None)` when there is none.
    fn read(&self, path: &str) -> io::Result<Option<StoredEntry>>;
    /// Stores the concatenation of `parts` at `path`, atomically. An entry
    /// there already is replaced if it was [`rejected`](Self::rejected).
    fn write(&self, path: &str, parts: &[&[u8]]) -> io::Result<()>;
    /// Removes every entry.
    fn clear(&self) -> io::Result<()>;
    /// Waits until no other caller (thread or process) computes `key`, and
    /// keeps the others out until the guard is dropped.
    fn lock(&self, key: Digest) -> io::Result<KeyGuard>;
    /// [`lock`](Self::lock), waiting at most `limit` (`None`: as long as
    /// the other caller holds it); `Ok(None)` when the limit passed first.
    fn lock_within(&self, key: Digest, limit: Option<Duration>) -> io::Result<Option<KeyGuard>> {
        let _ = limit;
        self.lock(key).map(Some)
    }
    /// What is stored near a call of the function directory `dir` and code
    /// version `version`, to explain its miss (bounded work: see
    /// `nearby.rs`); nothing when the store cannot tell cheaply.
    fn nearby(&self, dir: &str, version: &str) -> nearby::Nearby {
        let _ = (dir, version);
        nearby::Nearby::default()
    }
    /// The entry at `path` was read and found unusable (damaged, expired,
    /// of another type, or a handle asked to recompute it): the next write
    /// of `path` replaces it wherever it is stored.
    fn rejected(&self, path: &str) {
        let _ = path;
    }
    /// Removes one entry.
    fn remove(&self, path: &str) -> io::Result<()>;
    /// Removes every entry of the function directory `dir`.
    fn remove_function(&self, dir: &str) -> io::Result<()>;
    /// The local cache directory: where usage records are written.
    fn root(&self) -> &Path;
    /// The shared store behind the local directory that this process may
    /// write to — upload usage records to, enforce limits in, administer;
    /// `None` for a directory, and for a read-only shared store.
    fn remote(&self) -> Option<&Arc<dyn Store>> {
        None
    }
    /// A writer to the store's blob area for one entry, if it keeps large
    /// arrays by content (`blobs.rs`): dropped once the entry is written.
    fn blob_writer(&self) -> Option<Box<dyn BlobWriter + '_>> {
        None
    }
    /// The store's blob area, to read arrays stored by content from.
    fn blob_reader(&self) -> Option<&dyn BlobReader> {
        None
    }
    /// Drops every copy kept in this process (the in-process tier), after
    /// entries were removed behind the store's back (by administration).
    fn forget_all(&self) {}
    /// The in-process tier in front of this store, if the `Memory` has one
    /// (`Memory::in_process`): the call path looks hits up in it by key.
    fn in_process(&self) -> Option<&in_process::InProcess> {
        None
    }
    /// Hands the hits counted on in-process copies to the usage recorder.
    fn flush_kept_hits(&self) {}
}
