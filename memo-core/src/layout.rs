//! The layout of a cache directory: every name memo creates, in one place.
//!
//! ```text
//! <location>/
//!   CACHEDIR.TAG         the marker: proves the directory is a memo cache
//!   .gitignore           "*": a cache is never committed
//!   .locks               compute-once locks
//!   .usage/              usage records
//!     scan               what the last walk found (sizes, times, directory stamps)
//!   .blobs/              large arrays, stored once per content digest
//!     <32 hex>.blob      a blob, named by its `hash::run_digest`
//!     .tmp-<16 hex>.blob a blob being written (where O_TMPFILE is missing)
//!     lock               held shared by writers, exclusively by a sweep
//!   <function>/          one per function identity (`key::dir_name`)
//!     .current           the code version its programs use now
//!     <version>/         16 hex digits
//!       <key>.memo       32 hex digits
//!       .tmp-<16 hex>.memo   a write in progress, or left by a crash
//! ```
//!
//! A shared store (`s3://...`) holds the same, and beside it:
//!
//! ```text
//!   .leases/<key>.lease  a compute-once lease: a machine computes <key> (32 hex digits)
//!   .blobs/<digest>.used a writer's mark that it is about to refer to the blob (no lock
//!                        spans machines: a sweep spares blobs used or marked recently)
//! ```
//!
//! Anything that removes files asks these predicates first: memo deletes
//! only what has one of its own names in one of its own places (and, for
//! entries, its own format: see `store::owned`).

/// The marker file. Its content, [`MARKER_TEXT`], is what proves a
/// directory is a memo cache: other tools (cargo, for one) write a
/// `CACHEDIR.TAG` too, with other text.
pub(crate) const MARKER: &str = "CACHEDIR.TAG";

/// The marker's content: the Cache Directory Tagging signature, then memo's
/// own line.
pub(crate) const MARKER_TEXT: &[u8] =
    b"Signature: 8a477f597d28d172789f06886806bc55\n# This directory is a memo cache.\n";

/// Keeps a cache out of git.
pub(crate) const GITIGNORE: &str = ".gitignore";

/// The `.gitignore` memo writes.
pub(crate) const GITIGNORE_TEXT: &[u8] = b"# Created by memo: this directory is a cache.\n*\n";

/// The compute-once lock file.
pub(crate) const LOCK_FILE: &str = ".locks";

/// The usage records' directory.
pub(crate) const USAGE_DIR: &str = ".usage";

/// In [`USAGE_DIR`]: what the last walk of the cache found
/// (`manage/scan_index.rs`).
pub(crate) const SCAN_INDEX: &str = "scan";

/// The blob area: large arrays by content digest.
pub(crate) const BLOBS_DIR: &str = ".blobs";

/// The blob area's lock file, inside [`BLOBS_DIR`].
pub(crate) const BLOB_LOCK: &str = "lock";

/// The file name of the blob of `digest`, inside [`BLOBS_DIR`].
pub(crate) fn blob_name(digest: u128) -> String {
    format!("{digest:032x}.blob")
}

/// The digest a blob's file name says; `None` for any other name.
pub(crate) fn parse_blob_name(name: &str) -> Option<u128> {
    let hex = name.strip_suffix(".blob")?;
    if !is_hex(hex, 32) {
        return None;
    }
    u128::from_str_radix(hex, 16).ok()
}

/// The path of the blob of `digest`, from the cache directory.
pub(crate) fn blob_path(digest: u128) -> String {
    format!("{BLOBS_DIR}/{}", blob_name(digest))
}

/// A temp file of a blob being written (where anonymous files are missing).
pub(crate) fn blob_temp_name(random: u64) -> String {
    format!("{TEMP_PREFIX}{random:016x}.blob")
}

/// Whether `name` is a blob's temp file.
pub(crate) fn is_blob_temp_name(name: &str) -> bool {
    name.strip_prefix(TEMP_PREFIX)
        .and_then(|rest| rest.strip_suffix(".blob"))
        .is_some_and(|hex| is_hex(hex, 16))
}

/// The name of the use mark of the blob of `digest` in a shared store,
/// inside [`BLOBS_DIR`]: written by a writer just before it checks the blob
/// is there, so that a sweep spares the blob (`store/shared_blobs.rs`).
pub(crate) fn blob_mark_name(digest: u128) -> String {
    format!("{digest:032x}.used")
}

/// The digest a blob use mark's name says; `None` for any other name.
pub(crate) fn parse_blob_mark_name(name: &str) -> Option<u128> {
    let hex = name.strip_suffix(".used")?;
    if !is_hex(hex, 32) {
        return None;
    }
    u128::from_str_radix(hex, 16).ok()
}

/// Whether the object `path` of a shared store has one of memo's names in
/// one of memo's places, other than a lease (`.leases/`, removed only once
/// over: `store/owned.rs`) and the blob area (`.blobs/`, removed only by a
/// sweep): the marker, a usage record, a function's `.current`, an entry or
/// an entry's temp object.
pub(crate) fn is_store_object(path: &str) -> bool {
    if path == MARKER {
        return true;
    }
    if let Some(name) = path
        .strip_prefix(USAGE_DIR)
        .and_then(|r| r.strip_prefix('/'))
    {
        return is_usage_object_name(name);
    }
    match path.split_once('/') {
        Some((function, _)) => is_function_dir(function) && is_function_object(function, path),
        None => false,
    }
}

/// The names memo gives usage objects in a shared store's `.usage/`
/// (`manage/remote.rs`): `summary-<hex>`, `<name>.log` and the compaction
/// lease `lock`, each one plain segment.
fn is_usage_object_name(name: &str) -> bool {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    plain
        && (name == "lock"
            || name.ends_with(".log")
            || name
                .strip_prefix("summary-")
                .is_some_and(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit())))
}

/// A function's current code version, inside its directory.
pub(crate) const CURRENT_FILE: &str = ".current";

/// The compute-once leases' directory, in a shared store only.
pub(crate) const LEASE_DIR: &str = ".leases";

/// Named temp files of entries (the fallback write path) start with this.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

/// Temp files of `.current` start with this.
pub(crate) const CURRENT_TEMP_PREFIX: &str = ".current-";

/// The longest marker or `.gitignore` memo reads: anything longer is not
/// one of its own.
pub(crate) const MARKER_CAP: usize = 512;

/// The names memo keeps at the top of a cache directory besides function
/// directories.
pub(crate) fn is_top_level_name(name: &str) -> bool {
    matches!(name, MARKER | GITIGNORE | LOCK_FILE | USAGE_DIR | BLOBS_DIR)
}

/// Whether `name` could be a function directory `key::dir_name` made: ASCII
/// letters, digits, `_` and `.`, optionally `-` and 16 hex digits, never
/// starting with a dot; and for one of several definitions sharing an
/// identity (`key::shared_dir_name`), `@` and 16 more hex digits.
pub(crate) fn is_function_dir(name: &str) -> bool {
    let name = match name.rsplit_once('@') {
        Some((name, location)) if is_hex(location, 16) => name,
        Some(_) => return false,
        None => name,
    };
    let readable = match name.rsplit_once('-') {
        Some((readable, hash)) if is_hex(hash, 16) => readable,
        Some(_) => return false,
        None => name,
    };
    !readable.is_empty()
        && !readable.starts_with('.')
        && readable
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
}

/// The code-version directory of a fingerprint: its first 64 bits in hex.
pub(crate) fn version_dir(fingerprint: u128) -> String {
    format!("{:016x}", (fingerprint >> 64) as u64)
}

/// Whether `name` is a code-version directory's name.
pub(crate) fn is_version_dir(name: &str) -> bool {
    is_hex(name, 16)
}

/// The store path of an entry.
pub(crate) fn entry_path(function_dir: &str, version_dir: &str, key: u128) -> String {
    // By hand, not `format!`: this runs on every call, and formatting a
    // `u128` as hex costs more than the rest of the path together.
    let name = entry_name(key);
    let name = name.as_str();
    let mut path = String::with_capacity(function_dir.len() + version_dir.len() + 2 + name.len());
    path.push_str(function_dir);
    path.push('/');
    path.push_str(version_dir);
    path.push('/');
    path.push_str(name);
    path
}

/// An entry's file name, built without allocating: `<32 hex digits>.memo`.
pub(crate) struct EntryName([u8; 38]);

impl EntryName {
    /// The name for a system call (NUL-terminated).
    pub(crate) fn as_cstr(&self) -> &std::ffi::CStr {
        std::ffi::CStr::from_bytes_with_nul(&self.0).expect("one NUL, at the end")
    }

    /// The name as text.
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0[..37]).expect("hex digits and .memo")
    }
}

/// An entry's file name.
pub(crate) fn entry_name(key: u128) -> EntryName {
    let mut name = [0u8; 38];
    name[..32].copy_from_slice(&hex_digits(key));
    name[32..37].copy_from_slice(b".memo");
    EntryName(name)
}

/// `value` as 32 lowercase hex digits, as `format!("{value:032x}")` but
/// several times cheaper (misses write a few of these).
pub(crate) fn hex(value: u128) -> String {
    String::from_utf8(hex_digits(value).to_vec()).expect("hex digits")
}

fn hex_digits(value: u128) -> [u8; 32] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    std::array::from_fn(|i| HEX[((value >> (124 - 4 * i)) & 0xf) as usize])
}

/// The key an entry file name stands for.
pub(crate) fn parse_entry_name(name: &[u8]) -> Option<u128> {
    key_of(name.strip_suffix(b".memo")?)
}

/// The key written as exactly 32 lowercase hex digits, as [`hex`] writes
/// it; `None` for anything else.
fn key_of(hex: &[u8]) -> Option<u128> {
    if hex.len() != 32 {
        return None;
    }
    // By hand, one digit at a time: a walk parses every name of a
    // directory, and `from_str_radix` on a `u128` costs ~1,000
    // instructions a name.
    hex.iter().try_fold(0u128, |key, &digit| {
        let value = match digit {
            b'0'..=b'9' => digit - b'0',
            b'a'..=b'f' => digit - b'a' + 10,
            _ => return None,
        };
        Some(key << 4 | u128::from(value))
    })
}

/// The store path of the compute-once lease of `key`.
pub(crate) fn lease_path(key: u128) -> String {
    format!("{LEASE_DIR}/{key:032x}.lease")
}

/// The key a lease path ([`lease_path`]) stands for.
pub(crate) fn parse_lease_path(path: &str) -> Option<u128> {
    let hex = path
        .strip_prefix(LEASE_DIR)?
        .strip_prefix('/')?
        .strip_suffix(".lease")?;
    key_of(hex.as_bytes())
}

/// A new name for an entry's temp file.
pub(crate) fn temp_name(random: u64) -> String {
    format!("{TEMP_PREFIX}{random:016x}.memo")
}

/// Whether `name` is an entry temp file's name ([`temp_name`]).
pub(crate) fn is_temp_name(name: &str) -> bool {
    name.strip_prefix(TEMP_PREFIX)
        .and_then(|rest| rest.strip_suffix(".memo"))
        .is_some_and(|hex| is_hex(hex, 16))
}

/// A new name for a `.current` temp file.
pub(crate) fn current_temp_name(random: u64) -> String {
    format!("{CURRENT_TEMP_PREFIX}{random:016x}")
}

/// Whether `name` is a `.current` temp file's name.
pub(crate) fn is_current_temp_name(name: &str) -> bool {
    name.strip_prefix(CURRENT_TEMP_PREFIX)
        .is_some_and(|hex| is_hex(hex, 16))
}

/// Whether the object `path` of a store is one of memo's files in the
/// function directory `function`: `<function>/.current`, or an entry or
/// temp file in one of its code versions.
pub(crate) fn is_function_object(function: &str, path: &str) -> bool {
    let Some(rest) = path
        .strip_prefix(function)
        .and_then(|r| r.strip_prefix('/'))
    else {
        return false;
    };
    match rest.split_once('/') {
        None => rest == CURRENT_FILE,
        Some((version, name)) => {
            is_version_dir(version)
                && (parse_entry_name(name.as_bytes()).is_some() || is_temp_name(name))
        }
    }
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_dirs_are_what_dir_name_makes() {
        for identity in [
            "my_crate::f",
            "m::describe<u32>",
            "a.b",
            ".hidden",
            "x::y::z",
        ] {
            let name = crate::key::dir_name(identity);
            assert!(is_function_dir(&name), "{name}");
        }
        for foreign in [".git", "src-main", "my dir", "", "-0123456789abcdef", "a/b"] {
            assert!(!is_function_dir(foreign), "{foreign}");
        }
    }

    #[test]
    fn entry_and_temp_names_round_trip() {
        let key = 0x0123_4567_89ab_cdef_0011_2233_4455_6677;
        let name = entry_name(key);
        assert_eq!(parse_entry_name(name.as_str().as_bytes()), Some(key));
        for foreign in [
            "0123456789ABCDEF0011223344556677.memo",
            "0123456789abcdef001122334455667.memo",
            "0123456789abcdef00112233445566778.memo",
            "0123456789abcdeg0011223344556677.memo",
            "0123456789abcdef0011223344556677.mem",
            " 123456789abcdef0011223344556677.memo",
        ] {
            assert_eq!(parse_entry_name(foreign.as_bytes()), None, "{foreign}");
        }
        assert_eq!(
            &entry_path("f", "0123456789abcdef", key)[19..],
            name.as_str()
        );
        for key in [0, 1, key, u128::MAX, 1 << 127] {
            assert_eq!(
                entry_path("fn.dir", "0123456789abcdef", key),
                format!("fn.dir/0123456789abcdef/{key:032x}.memo")
            );
            assert_eq!(hex(key), format!("{key:032x}"));
        }
        assert!(is_temp_name(&temp_name(7)));
        assert!(!is_temp_name(".tmp-notes.memo"));
        assert!(is_current_temp_name(&current_temp_name(7)));
        assert_eq!(parse_lease_path(&lease_path(key)), Some(key));
        assert_eq!(parse_lease_path(".leases/notes.lease"), None);
        assert_eq!(parse_lease_path(&format!("f/{}", lease_path(key))), None);
        assert!(!is_function_object(".leases", &lease_path(key)));
        assert!(is_version_dir(&version_dir(u128::MAX)));
        assert!(!is_version_dir("src"));
        let entry = entry_path("f", "0123456789abcdef", key);
        assert!(is_function_object("f", &entry));
        assert!(is_function_object("f", "f/.current"));
        assert!(!is_function_object("f", "f/notes.txt"));
        assert!(!is_function_object("f", "f2/.current"));
        assert!(!is_function_object(
            "f",
            &format!("f/0123456789abcdef/x/{}", &entry[19..])
        ));
    }
}
