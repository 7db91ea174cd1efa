//! Stored calls near a call that missed, to explain the miss: whether the
//! function has stored anything, a few calls of its current code version,
//! and the other code version with the newest results.
//!
//! Only the miss path asks, and the work is bounded whatever the cache
//! holds: at most [`MAX_VERSIONS`] version directories looked at, at most
//! [`MAX_NAMES`] names listed in one, at most [`SAMPLE`] entries read per
//! version, each only up to its metadata. Nothing read here is served:
//! metadata is decoded without its checksum (see `entry::unverified_meta`),
//! through `read.rs` like every other read of a cache file.

use std::ffi::CStr;
use std::os::fd::{AsFd, OwnedFd};

use crate::entry::{self, EntryMeta, HEADER_LEN};
use crate::layout;
use crate::sys;

use super::read;

/// Version directories looked at in a function directory.
const MAX_VERSIONS: usize = 64;
/// Names listed in one version directory.
const MAX_NAMES: usize = 256;
/// Entries whose metadata is read, per version directory.
pub(crate) const SAMPLE: usize = 8;
/// The most of an entry read for its metadata.
const META_CAP: u64 = 16 * 1024;

/// What is stored near a call of one function and code version.
#[derive(Debug, Default)]
pub(crate) struct Nearby {
    /// Whether the store looked (a store that cannot look cheaply does not).
    pub known: bool,
    /// Whether the function has a directory with at least one version.
    pub function_seen: bool,
    /// Metadata of stored calls of the call's own version ([`SAMPLE`] at
    /// most).
    pub same_version: Vec<EntryMeta>,
    /// Whether the version holds more entries than were read.
    pub same_version_more: bool,
    /// The other code version whose directory changed last, if any.
    pub other: Option<OtherVersion>,
}

/// Another code version of the function.
#[derive(Debug)]
pub(crate) struct OtherVersion {
    /// Its directory name (16 hex digits).
    pub name: String,
    /// When its directory last changed (its newest result was stored), in
    /// milliseconds since the Unix epoch.
    pub changed_ms: u64,
    /// Metadata of some of its calls ([`SAMPLE`] at most).
    pub calls: Vec<EntryMeta>,
}

/// Looks around `dir/version` below the cache directory `root`.
pub(crate) fn look(root: &OwnedFd, dir: &str, version: &str) -> Nearby {
    let mut nearby = Nearby {
        known: true,
        ..Nearby::default()
    };
    let Ok(function) = sys::open_dir(root, dir) else {
        return nearby;
    };
    let mut newest: Option<(String, u64)> = None;
    for name in names(&function, MAX_VERSIONS) {
        if !layout::is_version_dir(&name) {
            continue;
        }
        nearby.function_seen = true;
        if name == version {
            continue;
        }
        let changed = rustix::fs::statat(
            &function,
            name.as_str(),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .map(|stat| {
            let ms = i128::from(stat.st_mtime) * 1000 + i128::from(stat.st_mtime_nsec) / 1_000_000;
            u64::try_from(ms).unwrap_or(0)
        })
        .unwrap_or(0);
        if newest.as_ref().is_none_or(|(_, ms)| changed > *ms) {
            newest = Some((name, changed));
        }
    }
    if let Ok(own) = sys::open_dir(&function, version) {
        (nearby.same_version, nearby.same_version_more) = sample(&own);
    }
    nearby.other = newest.and_then(|(name, changed_ms)| {
        let versioned = sys::open_dir(&function, &name).ok()?;
        let (calls, _) = sample(&versioned);
        Some(OtherVersion {
            name,
            changed_ms,
            calls,
        })
    });
    nearby
}

/// The metadata of up to [`SAMPLE`] entries in a version directory, and
/// whether it holds more.
fn sample(version: &OwnedFd) -> (Vec<EntryMeta>, bool) {
    let entries: Vec<String> = names(version, MAX_NAMES)
        .into_iter()
        .filter(|name| layout::parse_entry_name(name.as_bytes()).is_some())
        .collect();
    let more = entries.len() > SAMPLE;
    let metas = entries
        .iter()
        .take(SAMPLE)
        .filter_map(|name| head_meta(version, name))
        .collect();
    (metas, more)
}

/// The metadata at the start of the entry `name` in `dir`, unverified.
fn head_meta(dir: impl AsFd, name: &str) -> Option<EntryMeta> {
    let (file, len) = read::open_regular(dir, name).ok()??;
    let mut bytes = Vec::new();
    read::read_up_to(&file, &mut bytes, len.min(HEADER_LEN as u64)).ok()?;
    let want = entry::meta_end(&bytes)?.min(len).min(META_CAP);
    read::read_up_to(&file, &mut bytes, want).ok()?;
    entry::unverified_meta(&bytes)
}

/// Up to `limit` names in `dir` (without `.` and `..`).
fn names(dir: impl AsFd, limit: usize) -> Vec<String> {
    use rustix::fs::RawDir;
    let mut buffer = Vec::with_capacity(8 * 1024);
    let mut entries = RawDir::new(&dir, buffer.spare_capacity_mut());
    let mut found = Vec::new();
    while found.len() < limit {
        let Some(Ok(entry)) = entries.next() else {
            break;
        };
        let name: &CStr = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        if let Ok(name) = name.to_str() {
            found.push(name.to_owned());
        }
    }
    found
}
