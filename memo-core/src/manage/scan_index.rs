//! What the last walk of a cache directory found, kept so the next walk
//! lists and stats only what changed (`.usage/scan`).
//!
//! Entry files are immutable (a replaced entry is a new inode), so an
//! entry's size and time are known for as long as its name has the same
//! inode, and a version directory whose inode, change time and
//! modification time are those of the last walk holds the same names: any
//! link, unlink or rename in it moves its change time forward. A walk with
//! an index therefore `fstat`s each version directory, reuses what the
//! index holds for those that did not change, lists the others, and
//! `fstatat`s only their entries the index does not know by (key, inode).
//!
//! Guarantees (what a reader may rely on):
//! - a directory's stamp is trusted only if its change and modification
//!   times are strictly older than a time the *same file system* gave out
//!   before the walk `fstat`ed it ([`Settled`]): a change after that
//!   `fstat` then gets a later time and moves the stamp, whatever the
//!   file system's timestamp granularity. Without such a time (a cache we
//!   may not write to, a file system without `O_TMPFILE`), a directory
//!   changed within [`RACY_MS`](super::settled::RACY_MS) of the walk by this machine's clock is
//!   not trusted by the next one;
//! - an index older than [`FULL_WALK_MS`] is not used: every hour at most,
//!   a walk stats everything. What the index cannot see — an entry file
//!   written in place by hand, a file system whose clock jumped back, or
//!   (without a time from the file system) one whose clock is behind this
//!   machine's by more than [`RACY_MS`](super::settled::RACY_MS) — is thus wrong for an hour at
//!   most; entries added, replaced or removed by anyone are always seen;
//! - a damaged or foreign index (checksum, lengths) is ignored: a full walk.

use std::path::Path;

use rustix::fs::Stat;
use xxhash_rust::xxh3::xxh3_64;

use super::scan::{Scan, ScannedEntry, TempFile};
use crate::access::Access;
use crate::layout::{SCAN_INDEX, USAGE_DIR};
use crate::store::read;
use crate::sys::{self, KeyMap};

use super::settled::Settled;

const MAGIC: [u8; 8] = *b"MEMOSCN\x01";
/// An index older than this is not used: the walk starts over.
pub(crate) const FULL_WALK_MS: u64 = 3600 * 1000;
/// The bytes of one entry in an index: key, inode, size, disk, time.
const ENTRY_LEN: usize = 48;
/// Indexes larger than this are not read (about 20 million entries).
const MAX_LEN: u64 = 1 << 30;

/// A directory's identity and its last change: equal stamps, same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    ino: u64,
    /// The change time, in nanoseconds.
    pub(super) ctime_ns: u64,
    mtime_ns: u64,
}

impl Stamp {
    /// What stands for a directory that does not exist (no inode is 0).
    pub(crate) const ABSENT: Stamp = Stamp {
        ino: 0,
        ctime_ns: 0,
        mtime_ns: 0,
    };

    /// The stamp of a directory `fstat`ed *after* `settled` was taken, if
    /// it can be trusted: it changed before that time (see [`Settled`]).
    pub(crate) fn of(stat: &Stat, settled: &Settled) -> Option<Stamp> {
        let stamp = Stamp::read(stat)?;
        let before = settled.before_ns(stat);
        (stamp.ctime_ns < before && stamp.mtime_ns < before).then_some(stamp)
    }

    /// The stamp of `stat`, trusted or not.
    // `st_*time_nsec` is `u64` on some targets and `i64` on others.
    #[allow(clippy::unnecessary_cast)]
    pub(crate) fn read(stat: &Stat) -> Option<Stamp> {
        Some(Stamp {
            ino: stat.st_ino as u64,
            ctime_ns: ns(stat.st_ctime as i64, stat.st_ctime_nsec as i64)?,
            mtime_ns: ns(stat.st_mtime as i64, stat.st_mtime_nsec as i64)?,
        })
    }
}

/// Seconds and nanoseconds of a time stamp, as nanoseconds.
pub(super) fn ns(secs: i64, nsec: i64) -> Option<u64> {
    u64::try_from(secs)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(u64::try_from(nsec).ok()?)
}

/// One version directory as the last walk found it.
#[derive(Debug, Clone)]
pub(crate) struct IndexedVersion {
    pub function: String,
    pub version: String,
    /// Its stamp, when it could be trusted.
    pub stamp: Option<Stamp>,
    /// Its entries, with raw sizes (no share of blobs).
    pub entries: Vec<ScannedEntry>,
    pub temps: Vec<TempFile>,
}

/// What the last walk found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    /// When the last walk that used no index started.
    pub walked_ms: u64,
    pub versions: Vec<IndexedVersion>,
    /// The blob area's stamp when `charges` were computed (`None`: not
    /// trusted, or no blob area).
    pub blobs: Option<Stamp>,
    /// Per entry key with blobs: the share of blob bytes and disk bytes
    /// it was charged.
    pub charges: Vec<(u128, u64, u64)>,
}

impl Index {
    /// The version directories of the index, by (function, version).
    pub(crate) fn by_name(&self) -> std::collections::HashMap<(&str, &str), &IndexedVersion> {
        self.versions
            .iter()
            .map(|v| ((v.function.as_str(), v.version.as_str()), v))
            .collect()
    }

    /// The index of `scan` (raw sizes: before blobs were charged), whose
    /// version directories have `stamps`.
    pub(crate) fn of(scan: &Scan, stamps: &[Option<Stamp>], walked_ms: u64) -> Index {
        Index {
            walked_ms,
            versions: scan
                .versions
                .iter()
                .enumerate()
                .map(|(v, dir)| IndexedVersion {
                    function: scan.functions[dir.function].name.clone(),
                    version: dir.name.clone(),
                    stamp: stamps.get(v).copied().flatten(),
                    entries: scan.entries[dir.entries.clone()].to_vec(),
                    temps: scan
                        .temps
                        .iter()
                        .filter(|t| t.version == v)
                        .cloned()
                        .collect(),
                })
                .collect(),
            blobs: None,
            charges: Vec::new(),
        }
    }

    /// Whether `scan` (whose version directories have `stamps`, and its
    /// blob area `blobs`) found every directory as this index has them,
    /// all trusted: then it found the same entries and blobs.
    pub(crate) fn unchanged(
        &self,
        scan: &Scan,
        stamps: &[Option<Stamp>],
        blobs: Option<Stamp>,
    ) -> bool {
        self.blobs.is_some()
            && self.blobs == blobs
            && self.versions.len() == scan.versions.len()
            && stamps.len() == scan.versions.len()
            && self
                .versions
                .iter()
                .zip(&scan.versions)
                .zip(stamps)
                .all(|((old, new), stamp)| {
                    old.stamp.is_some()
                        && old.stamp == *stamp
                        && old.version == new.name
                        && old.function == scan.functions[new.function].name
                })
    }

    /// The charges kept, by key.
    pub(crate) fn charges(&self) -> KeyMap<u128, (u64, u64)> {
        self.charges
            .iter()
            .map(|&(key, size, disk)| (key, (size, disk)))
            .collect()
    }

    fn encode(&self) -> Vec<u8> {
        let entries: usize = self.versions.iter().map(|v| v.entries.len()).sum();
        let mut out = Vec::with_capacity(64 + entries * 48);
        let u64s = |out: &mut Vec<u8>, values: &[u64]| {
            for value in values {
                out.extend_from_slice(&value.to_le_bytes());
            }
        };
        let string = |out: &mut Vec<u8>, s: &str| {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        };
        let stamp = |out: &mut Vec<u8>, stamp: Option<Stamp>| match stamp {
            Some(s) => u64s(out, &[1, s.ino, s.ctime_ns, s.mtime_ns]),
            None => u64s(out, &[0, 0, 0, 0]),
        };
        out.extend_from_slice(&MAGIC);
        u64s(&mut out, &[self.walked_ms, self.versions.len() as u64]);
        for v in &self.versions {
            string(&mut out, &v.function);
            string(&mut out, &v.version);
            stamp(&mut out, v.stamp);
            u64s(&mut out, &[v.entries.len() as u64, v.temps.len() as u64]);
            for e in &v.entries {
                out.extend_from_slice(&e.key.to_le_bytes());
                u64s(&mut out, &[e.ino, e.size, e.disk, e.mtime_ms]);
            }
            for t in &v.temps {
                string(&mut out, &t.name);
                u64s(&mut out, &[t.size, t.mtime_ms]);
            }
        }
        stamp(&mut out, self.blobs);
        u64s(&mut out, &[self.charges.len() as u64]);
        for &(key, size, disk) in &self.charges {
            out.extend_from_slice(&key.to_le_bytes());
            u64s(&mut out, &[size, disk]);
        }
        let sum = xxh3_64(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Index> {
        let (body, sum) = bytes.split_last_chunk::<8>()?;
        if xxh3_64(body) != u64::from_le_bytes(*sum) || !body.starts_with(&MAGIC) {
            return None;
        }
        let mut reader = Reader {
            bytes: body,
            at: MAGIC.len(),
        };
        let walked_ms = reader.u64()?;
        let versions = reader.count(48)?;
        let mut index = Index {
            walked_ms,
            ..Index::default()
        };
        for v in 0..versions {
            let function = reader.string()?;
            let version = reader.string()?;
            let stamp = reader.stamp()?;
            let entries = reader.count(ENTRY_LEN)?;
            let temps = reader.count(20)?;
            let version_index = u32::try_from(v).ok()?;
            // One bounds check for the whole run of fixed-size records: a
            // million entries decode in milliseconds.
            let entries = reader
                .take(entries * ENTRY_LEN)?
                .chunks_exact(ENTRY_LEN)
                .map(|record| {
                    let u64_at = |at: usize| {
                        u64::from_le_bytes(record[at..at + 8].try_into().expect("8 bytes"))
                    };
                    ScannedEntry {
                        key: u128::from_le_bytes(record[..16].try_into().expect("16 bytes")),
                        ino: u64_at(16),
                        size: u64_at(24),
                        disk: u64_at(32),
                        mtime_ms: u64_at(40),
                        version: version_index,
                    }
                })
                .collect::<Vec<_>>();
            let temps = (0..temps)
                .map(|_| {
                    Some(TempFile {
                        version: v,
                        name: reader.string()?,
                        size: reader.u64()?,
                        mtime_ms: reader.u64()?,
                    })
                })
                .collect::<Option<Vec<_>>>()?;
            index.versions.push(IndexedVersion {
                function,
                version,
                stamp,
                entries,
                temps,
            });
        }
        index.blobs = reader.stamp()?;
        let charges = reader.count(32)?;
        index.charges = (0..charges)
            .map(|_| Some((reader.u128()?, reader.u64()?, reader.u64()?)))
            .collect::<Option<Vec<_>>>()?;
        (reader.at == body.len()).then_some(index)
    }
}

/// Reads an index, every length checked against what is left.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, len: usize) -> Option<&[u8]> {
        let part = self.bytes.get(self.at..self.at.checked_add(len)?)?;
        self.at += len;
        Some(part)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn u128(&mut self) -> Option<u128> {
        Some(u128::from_le_bytes(self.take(16)?.try_into().ok()?))
    }

    /// A count of items of at least `min_len` bytes each: never more than
    /// what is left could hold.
    fn count(&mut self, min_len: usize) -> Option<usize> {
        let count = usize::try_from(self.u64()?).ok()?;
        (count.checked_mul(min_len)? <= self.bytes.len() - self.at).then_some(count)
    }

    fn string(&mut self) -> Option<String> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }

    fn stamp(&mut self) -> Option<Option<Stamp>> {
        let trusted = self.u64()?;
        let stamp = Stamp {
            ino: self.u64()?,
            ctime_ns: self.u64()?,
            mtime_ns: self.u64()?,
        };
        Some((trusted == 1).then_some(stamp))
    }
}

/// The index of the cache at `root`, if there is one this walk may use
/// (readable, intact, younger than [`FULL_WALK_MS`] at `now_ms`).
pub(crate) fn read(root: &Path, now_ms: u64) -> Option<Index> {
    let root = sys::open_root(root).ok()?;
    let dir = sys::open_dir(&root, USAGE_DIR).ok()?;
    let bytes = read::read_small(&dir, SCAN_INDEX, MAX_LEN).ok()??;
    let index = Index::decode(&bytes)?;
    (index.walked_ms <= now_ms && now_ms - index.walked_ms < FULL_WALK_MS).then_some(index)
}

/// Keeps `index` for the next walk of the cache opened as `root` (a
/// directory proven to be a cache: `store/claim.rs`). Best effort: a cache
/// we may not write to is walked whole every time.
pub(crate) fn write(root: impl std::os::fd::AsFd, access: Access, index: &Index) {
    if let Err(e) = crate::usage::write_file(root, SCAN_INDEX, &index.encode(), access) {
        tracing::debug!(target: "memory", %e, "cannot keep the scan index");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_round_trip_and_reject_damage() {
        let stamp = Stamp {
            ino: 5,
            ctime_ns: 6,
            mtime_ns: 7,
        };
        let index = Index {
            walked_ms: 1000,
            versions: vec![IndexedVersion {
                function: "f".into(),
                version: "0123".into(),
                stamp: Some(stamp),
                entries: vec![ScannedEntry {
                    key: 9,
                    ino: 10,
                    size: 11,
                    disk: 4096,
                    mtime_ms: 12,
                    version: 0,
                }],
                temps: vec![TempFile {
                    version: 0,
                    name: ".tmp-x.memo".into(),
                    size: 1,
                    mtime_ms: 2,
                }],
            }],
            blobs: None,
            charges: vec![(9, 100, 4096)],
        };
        let bytes = index.encode();
        let decoded = Index::decode(&bytes).unwrap();
        assert_eq!(decoded.encode(), bytes);
        assert_eq!(decoded.versions[0].stamp, Some(stamp));
        for at in [0, 9, bytes.len() / 2, bytes.len() - 1] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 1;
            assert!(Index::decode(&damaged).is_none(), "byte {at}");
        }
        assert!(Index::decode(&bytes[..bytes.len() - 3]).is_none());
    }
}
