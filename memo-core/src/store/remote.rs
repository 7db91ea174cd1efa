//! A [`Memory`] on a shared [`Store`]: configuration, locations such as
//! `s3://bucket/prefix`, where the local tier goes, and opening the tier.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::lease::LeaseOptions;
use super::object::Store;
use super::tier::{Sharing, Tier};
use super::{EntryStore, FsStore};
use crate::memory::Memory;

/// The environment variable naming the local tier's directory, for a
/// [`Memory`] on a shared store without [`Memory::local_tier`].
pub const LOCAL_TIER_ENV: &str = "MEMO_LOCAL_TIER";

/// The environment variable that makes every [`Memory`] on a shared store
/// read it without ever writing to it, whatever the code says (see
/// [`Memory::store_read_only`]): `1` (or `true`, `yes`, `on`). `0`, `false`,
/// `no`, `off` or empty leave it to the code; any other value is said once
/// and taken as read-only — a switch meant to protect a shared cache errs
/// on the safe side.
pub const STORE_READ_ONLY_ENV: &str = "MEMO_STORE_READ_ONLY";

/// What a `Memory` on a shared store was given.
#[derive(Default)]
pub(crate) struct Remote {
    /// A store given with [`Memory::with_store`]; `None` for a location
    /// (a directory, or a URL opened on first use).
    pub(crate) store: Option<Arc<dyn Store>>,
    /// The local tier's directory, if set.
    pub(crate) local_tier: Option<PathBuf>,
    /// Read the shared store, never write to it
    /// ([`Memory::store_read_only`]).
    pub(crate) read_only: bool,
    /// Compute-once leases between machines ([`Memory::lease_time`],
    /// [`Memory::lease_wait`]).
    pub(crate) lease: LeaseOptions,
}

impl Remote {
    /// Whether a store was given with [`Memory::with_store`].
    pub(crate) fn is_set(&self) -> bool {
        self.store.is_some()
    }
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("store", &self.store.as_ref().map(|s| s.location()))
            .field("local_tier", &self.local_tier)
            .field("read_only", &self.read_only)
            .field("lease", &self.lease)
            .finish()
    }
}

/// The scheme of a URL location (`s3` in `s3://bucket/prefix`).
fn scheme(location: &str) -> Option<&str> {
    let (scheme, _) = location.split_once("://")?;
    let plain = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    plain.then_some(scheme)
}

/// Whether `location` is a URL (`s3://...`) rather than a directory.
pub(crate) fn is_url(location: &Path) -> bool {
    location.to_str().and_then(scheme).is_some()
}

/// Opens the store of a URL location.
pub(crate) fn open_url(url: &str) -> io::Result<Arc<dyn Store>> {
    match scheme(url) {
        Some("s3" | "s3a") => open_s3(url),
        Some(other) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "{other}:// locations are not supported (s3:// is, with memo-core's `s3` feature; \
                 other stores plug in with Memory::with_store)"
            ),
        )),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{url} is not a URL"),
        )),
    }
}

#[cfg(feature = "s3")]
fn open_s3(url: &str) -> io::Result<Arc<dyn Store>> {
    Ok(Arc::new(super::S3Store::from_url(url)?))
}

#[cfg(not(feature = "s3"))]
fn open_s3(_url: &str) -> io::Result<Arc<dyn Store>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "s3:// locations need memo-core's `s3` feature (memo-core = { features = [\"s3\"] })",
    ))
}

/// Opens what `memory` caches in: its directory, or a tier in front of
/// its shared store.
pub(crate) fn open(memory: &Memory, location: &Path) -> io::Result<Box<dyn EntryStore>> {
    let remote = match (&memory.remote.store, location.to_str()) {
        (Some(store), _) => Arc::clone(store),
        (None, Some(url)) if scheme(url).is_some() => open_url(url)?,
        (None, _) => return Ok(Box::new(FsStore::open_with(location, memory.access)?)),
    };
    let tier = match &memory.remote.local_tier {
        Some(dir) => dir.clone(),
        None => match std::env::var_os(LOCAL_TIER_ENV) {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => default_tier(&remote.location()),
        },
    };
    let local = FsStore::open_with(&tier, memory.access).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot open the local tier {}: {e}", tier.display()),
        )
    })?;
    let sharing = Sharing {
        read_only: memory.remote.read_only || read_only_from_env(),
        lease: memory.remote.lease,
    };
    Ok(Box::new(Tier::new(local, remote, sharing)))
}

/// Whether `$MEMO_STORE_READ_ONLY` asks for read-only shared stores.
fn read_only_from_env() -> bool {
    let Some(value) = std::env::var_os(STORE_READ_ONLY_ENV) else {
        return false;
    };
    let text = value.to_string_lossy();
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => true,
        "" | "0" | "false" | "no" | "off" => false,
        other => {
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                crate::trace::warn(format_args!(
                    "{STORE_READ_ONLY_ENV}={other:?} is neither 1 nor 0; shared stores are read \
                 only (nothing is written to them)"
                ))
            });
            true
        }
    }
}

/// The default local tier of the store at `location`:
/// `$XDG_CACHE_HOME/memo/tiers/<scheme>/<rest of the location>`.
pub(crate) fn default_tier(location: &str) -> PathBuf {
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
    };
    let base = absolute("XDG_CACHE_HOME")
        .or_else(|| absolute("HOME").map(|home| home.join(".cache")))
        .unwrap_or_else(|| {
            // SAFETY: getuid has no preconditions and cannot fail.
            let uid = unsafe { libc::getuid() };
            std::env::temp_dir().join(format!("memo-{uid}"))
        });
    base.join("memo").join("tiers").join(tier_name(location))
}

/// A relative directory path that names `location` readably:
/// `s3://bucket/a/b` is `s3/bucket/a/b`; a lossy rendering gets a hash.
fn tier_name(location: &str) -> PathBuf {
    let (scheme, rest) = match scheme(location) {
        Some(scheme) => (scheme, &location[scheme.len() + 3..]),
        None => ("dir", location),
    };
    let mut lossless = true;
    let mut name = PathBuf::from(scheme);
    for part in rest.split('/').filter(|p| !p.is_empty() && *p != ".") {
        let clean: String = part
            .chars()
            .map(|c| match c {
                'A'..='Z' | 'a'..='z' | '0'..='9' | '_' | '-' | '.' => c,
                _ => '_',
            })
            .collect();
        lossless &= clean == part && part != "..";
        name.push(if clean == ".." { "_".to_owned() } else { clean });
    }
    if !lossless {
        let hash = xxhash_rust::xxh3::xxh3_64(location.as_bytes());
        name.push(format!("{hash:016x}"));
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_directories() {
        assert!(is_url(Path::new("s3://bucket/prefix")));
        assert!(is_url(Path::new("gs://bucket")));
        assert!(!is_url(Path::new("cache")));
        assert!(!is_url(Path::new("/tmp/a://b")));
        assert!(!is_url(Path::new("://x")));
    }

    #[test]
    fn tier_names_are_readable_and_never_escape() {
        assert_eq!(tier_name("s3://bucket/a/b"), PathBuf::from("s3/bucket/a/b"));
        assert_eq!(tier_name("/mnt/shared"), PathBuf::from("dir/mnt/shared"));
        let odd = tier_name("s3://bucket/../x y");
        assert!(odd.starts_with("s3/bucket/_/x_y"), "{odd:?}");
        assert_eq!(odd.components().count(), 5);
        assert!(odd.is_relative());
    }

    /// Without the feature, an `s3://` location is an error that says so
    /// (the `Memory` warns once and runs calls uncached), never a relative
    /// directory named `s3:`.
    #[cfg(not(feature = "s3"))]
    #[test]
    fn s3_locations_need_the_feature() {
        let dir = tempfile::tempdir().unwrap();
        let previous = std::env::current_dir().unwrap();
        let memory = Memory::new("s3://bucket/prefix");
        let error = open(&memory, Path::new("s3://bucket/prefix")).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::Unsupported);
        assert!(error.to_string().contains("`s3` feature"), "{error}");
        assert!(memory.clear().is_err());
        assert!(!dir.path().join("s3:").exists() && !previous.join("s3:").exists());
    }

    #[test]
    fn other_schemes_are_refused_clearly() {
        let error = open_url("gs://bucket/x").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::Unsupported);
        assert!(error.to_string().contains("gs://"), "{error}");
    }
}
