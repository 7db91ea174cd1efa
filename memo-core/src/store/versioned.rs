//! [`VersionedStore`]: the conditional writes by version that a lease
//! needs, offered by stores that can do them (S3's `If-Match`).
//!
//! A store without them still works: machines then compute a key once
//! each, not once between them (see `docs/backends.md`).

use std::io;
use std::time::SystemTime;

/// One version of an object, as the store identifies it: what
/// [`VersionedStore::replace`] names to replace exactly that version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    /// The store's tag for this version (S3's `ETag`): different for
    /// different contents, and for every write.
    pub tag: String,
    /// When this version was written, as [`VersionedStore::get_versioned`]
    /// reports it: the server's clock (S3's `Last-Modified`). A write's own
    /// answer may carry the writer's clock instead (S3 does not return the
    /// time of a `PUT`).
    pub modified: SystemTime,
}

/// Conditional writes by version, on top of [`Store`](super::Store): what
/// memo's compute-once leases across machines are built on
/// (`store/lease.rs`). A store offers them through
/// [`Store::versioned`](super::Store::versioned).
///
/// # Contract
///
/// Each operation is atomic with respect to the others on the same path:
/// of two writers that name the same version (or both create), exactly
/// one succeeds. Every successful write makes a new version with a tag no
/// earlier version of the path had (S3's ETag is the content's MD5, so
/// memo makes every write's content differ).
pub trait VersionedStore: Send + Sync {
    /// The object at `path` and its version; `Ok(None)` if there is none.
    fn get_versioned(&self, path: &str) -> io::Result<Option<(Vec<u8>, ObjectVersion)>>;

    /// Creates the object at `path` unless one is there (S3's
    /// `If-None-Match: *`): its new version, or `Ok(None)` leaving the
    /// existing object untouched.
    fn create(&self, path: &str, bytes: &[u8]) -> io::Result<Option<ObjectVersion>>;

    /// Replaces the object at `path` if its version is still `expected`
    /// (S3's `If-Match`): the new version, or `Ok(None)` if the object
    /// changed or is gone.
    fn replace(
        &self,
        path: &str,
        bytes: &[u8],
        expected: &ObjectVersion,
    ) -> io::Result<Option<ObjectVersion>>;
}
