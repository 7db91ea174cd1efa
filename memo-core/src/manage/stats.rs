//! Statistics per function: entries, bytes, code versions, last use, hits,
//! misses (and by the kind of their reason), and the compute time that hits
//! saved (hits × the recorded duration of the entry they were served from).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::Cache;
use super::reduce::{current_versions, last_use_ms};
use super::scan::Scan;
use super::usage::{Totals, Usage};
use crate::entry::Entry;
use crate::sys;

/// At most this many entries are read to find durations their records
/// lack (entries written before usage was recorded, or by a killed process).
const DURATION_LOOKUPS: usize = 10_000;

/// One function of a cache, as `memo ls` and `memo stats` show it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FunctionStats {
    /// Its identity (`crate::module::f`), or the directory name when no
    /// program or entry says.
    pub identity: String,
    /// Its directory name.
    pub dir: String,
    /// Its code versions, current first, then by name.
    pub versions: Vec<VersionStats>,
    /// Entries, over all versions.
    pub entries: u64,
    /// Their total length in bytes.
    pub bytes: u64,
    /// Bytes they take on disk (whole blocks).
    pub disk_bytes: u64,
    /// The last time any of its entries was used.
    pub last_used: Option<SystemTime>,
    /// Calls served from the cache.
    pub hits: u64,
    /// Calls computed.
    pub misses: u64,
    /// Calls computed, by the kind of their reason (`first call`,
    /// `expired`, ...; `unknown` for misses recorded before reasons were),
    /// from the usage records: every miss, whether its result was stored,
    /// replaced since, or never stored (an `Err`).
    pub misses_by_reason: BTreeMap<String, u64>,
    /// The compute time hits saved.
    pub time_saved: Duration,
}

/// One code version of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VersionStats {
    /// The version directory's name (16 hex digits of the fingerprint).
    pub version: String,
    /// Whether programs use this version now (see `memo gc --stale`).
    pub current: bool,
    /// Its entries.
    pub entries: u64,
    /// Their total length in bytes.
    pub bytes: u64,
    /// The last time one of them was used.
    pub last_used: Option<SystemTime>,
}

impl FunctionStats {
    /// The share of calls served from the cache, if there were calls.
    pub fn hit_rate(&self) -> Option<f64> {
        let calls = self.hits + self.misses;
        (calls > 0).then(|| self.hits as f64 / calls as f64)
    }

    /// How many code versions are not the current one.
    pub fn stale_versions(&self) -> usize {
        self.versions.iter().filter(|v| !v.current).count()
    }
}

impl Cache {
    /// Statistics for every function directory of `scan`, by identity.
    pub fn functions(&self, scan: &Scan, usage: &Usage) -> Vec<FunctionStats> {
        let currents = current_versions(scan, usage);
        // Counters from the records, per function directory hash.
        let mut totals: sys::KeyMap<u64, Totals> = usage.retired.clone();
        let mut unknown = Vec::new();
        for (key, k) in &usage.keys {
            let t = totals.entry(k.function).or_default();
            t.hits += k.hits;
            t.misses += k.misses;
            if k.duration_us == u64::MAX {
                if k.hits > 0 {
                    unknown.push((*key, k.hits, k.function));
                }
            } else {
                t.saved_us = t
                    .saved_us
                    .saturating_add(k.hits.saturating_mul(k.duration_us));
            }
        }
        if !unknown.is_empty() {
            self.add_unknown_durations(scan, &mut unknown, &mut totals);
        }
        let mut functions: Vec<FunctionStats> = scan
            .functions
            .iter()
            .enumerate()
            .map(|(f, dir)| {
                let mut versions: Vec<VersionStats> = dir
                    .versions
                    .clone()
                    .map(|v| {
                        let entries = &scan.entries[scan.versions[v].entries.clone()];
                        VersionStats {
                            version: scan.versions[v].name.clone(),
                            current: currents[f] == Some(v),
                            entries: entries.len() as u64,
                            bytes: entries.iter().map(|e| e.size).sum(),
                            last_used: entries
                                .iter()
                                .map(|e| last_use_ms(usage, e))
                                .max()
                                .map(sys::time_of),
                        }
                    })
                    .collect();
                versions.sort_by(|a, b| b.current.cmp(&a.current).then(a.version.cmp(&b.version)));
                let entries = dir
                    .versions
                    .clone()
                    .flat_map(|v| &scan.entries[scan.versions[v].entries.clone()]);
                let t = totals.get(&dir.hash).copied().unwrap_or_default();
                FunctionStats {
                    identity: self.identity_of(scan, f),
                    dir: dir.name.clone(),
                    entries: versions.iter().map(|v| v.entries).sum(),
                    bytes: versions.iter().map(|v| v.bytes).sum(),
                    disk_bytes: entries.map(|e| e.disk).sum(),
                    last_used: versions.iter().filter_map(|v| v.last_used).max(),
                    versions,
                    hits: t.hits,
                    misses: t.misses,
                    misses_by_reason: super::why::by_reason(usage, dir.hash),
                    time_saved: Duration::from_micros(t.saved_us),
                }
            })
            .collect();
        functions.sort_by(|a, b| a.identity.cmp(&b.identity).then(a.dir.cmp(&b.dir)));
        functions
    }

    /// A function's identity: from `.current`, else from the metadata of
    /// one of its entries, else its directory name.
    pub(crate) fn identity_of(&self, scan: &Scan, function: usize) -> String {
        let dir = &scan.functions[function];
        if let Some(current) = &dir.current
            && !current.identity.is_empty()
        {
            return current.identity.clone();
        }
        dir.versions
            .clone()
            .flat_map(|v| scan.versions[v].entries.clone())
            .take(3)
            .find_map(|i| {
                let bytes = self.read_entry(scan, &scan.entries[i]).ok()?;
                Entry::parse(&bytes, None)
                    .ok()?
                    .meta()
                    .ok()
                    .map(|m| m.identity)
            })
            .unwrap_or_else(|| dir.name.clone())
    }

    /// Reads the durations that records lack from the entries' metadata
    /// (at most [`DURATION_LOOKUPS`] of them, most hit first).
    fn add_unknown_durations(
        &self,
        scan: &Scan,
        unknown: &mut [(u128, u64, u64)],
        totals: &mut sys::KeyMap<u64, Totals>,
    ) {
        unknown.sort_unstable_by_key(|u| std::cmp::Reverse(u.1));
        let wanted: sys::KeyMap<u128, ()> = unknown
            .iter()
            .take(DURATION_LOOKUPS)
            .map(|(key, _, _)| (*key, ()))
            .collect();
        let mut found: sys::KeyMap<u128, f64> = sys::KeyMap::default();
        for entry in scan.entries.iter().filter(|e| wanted.contains_key(&e.key)) {
            if let Some(meta) = self.entry_meta(scan, entry) {
                found.insert(entry.key, meta.duration_s);
            }
        }
        for (key, hits, function) in unknown.iter() {
            if let Some(seconds) = found.get(key) {
                let saved = (seconds * 1e6 * *hits as f64) as u64;
                let t = totals.entry(*function).or_default();
                t.saved_us = t.saved_us.saturating_add(saved);
            }
        }
    }
}
