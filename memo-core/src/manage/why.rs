//! Why results were computed, from the usage records: every miss is
//! recorded with the kind of its reason, so a function's misses by reason
//! and its recent misses are there whatever became of their results —
//! replaced since, or never stored (an `Err`). What `memo why FUNCTION` and
//! `memo stats` show.
//!
//! A recent miss whose entry is still the one it computed is shown with the
//! reason in full, as that entry's metadata records it (`x` differs, which
//! version the code changed from, ...); the others with the kind of their
//! reason.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::usage::{Kind, MissKind, RECENT_MISSES, Record, UNKNOWN, Usage};
use super::{Cache, Scan};
use crate::sys::{self, KeyMap};

/// A miss's record and its entry may be this far apart (the entry's
/// creation time is taken before it is written, the record's after).
const WRITE_SLACK_MS: u64 = 10 * 60 * 1000;

/// One recorded miss.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MissRow {
    /// The call's key.
    pub key: u128,
    /// The code version of the call's entry, if one is stored now.
    pub version: Option<String>,
    /// The call as written, if an entry of its key is stored now (the key
    /// fixes the arguments, so any entry of it names the same call).
    pub call: Option<String>,
    /// When it was computed.
    pub computed: SystemTime,
    /// The kind of its reason.
    pub kind: MissKind,
    /// The reason in words: in full when its entry is still the one it
    /// computed, else the kind's name.
    pub reason: String,
    /// Whether its result was stored (`false`: an `Err`, nothing kept).
    pub stored: bool,
    /// How long the function ran, if recorded.
    pub duration: Option<Duration>,
}

/// The misses recorded for a function (or a whole cache).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Misses {
    /// The most recent first, at most the limit asked for (and at most the
    /// records keep: [`Misses::RECENT_KEPT`] per function).
    pub recent: Vec<MissRow>,
    /// How many misses had each kind of reason, by the kind's name. Misses
    /// recorded before reasons were count as `unknown`.
    pub by_reason: BTreeMap<String, u64>,
    /// For an `ignore_code` function: stored results of one version that
    /// were computed by different code (an edit kept them).
    pub kept: Option<Kept>,
}

impl Misses {
    /// How many recent misses the usage records keep per function.
    pub const RECENT_KEPT: usize = RECENT_MISSES;

    /// How many misses are recorded.
    pub fn total(&self) -> u64 {
        self.by_reason.values().sum()
    }
}

/// Results an `ignore_code` function kept across code changes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Kept {
    /// The function's `version = ".."`, if it gives one.
    pub version: Option<String>,
    /// How many code fingerprints computed the stored results of that
    /// version.
    pub codes: usize,
}

/// Misses counted by the kind of their reason, by the kind's name, for the
/// function with directory hash `function`.
pub(crate) fn by_reason(usage: &Usage, function: u64) -> BTreeMap<String, u64> {
    usage
        .misses_of(function)
        .into_iter()
        .flat_map(|misses| misses.by_reason())
        .map(|(kind, count)| (kind.as_str().to_owned(), count))
        .collect()
}

impl Cache {
    /// The misses recorded in `usage` for the function at index `function`
    /// of `scan` (every function's with `None`), the `limit` most recent
    /// listed. Reads the metadata of the listed misses' entries; for one
    /// function, also of its entries (to tell results `ignore_code` kept).
    pub fn misses(
        &self,
        scan: &Scan,
        usage: &Usage,
        function: Option<usize>,
        limit: usize,
    ) -> Misses {
        let functions = match function {
            Some(f) => f..f + 1,
            None => 0..scan.functions.len(),
        };
        let mut misses = Misses::default();
        let mut records: Vec<Record> = Vec::new();
        for f in functions.clone() {
            let hash = scan.functions[f].hash;
            for (kind, count) in by_reason(usage, hash) {
                *misses.by_reason.entry(kind).or_default() += count;
            }
            if let Some(recorded) = usage.misses_of(hash) {
                records.extend(recorded.recent());
            }
        }
        records.retain(|r| r.kind == Kind::Miss);
        records.sort_by(|a, b| b.time_ms.cmp(&a.time_ms).then(a.key.cmp(&b.key)));
        records.truncate(limit);
        misses.recent = self.rows(scan, functions.clone(), &records);
        if let Some(f) = function {
            misses.kept = self.kept(scan, f);
        }
        misses
    }

    /// The rows of `records` (misses of the functions `functions` of
    /// `scan`), with what the stored entries of their keys say.
    fn rows(
        &self,
        scan: &Scan,
        functions: std::ops::Range<usize>,
        records: &[Record],
    ) -> Vec<MissRow> {
        let wanted: KeyMap<u128, ()> = records.iter().map(|r| (r.key, ())).collect();
        // The stored entry of each listed key: its version, call, and when
        // and why it was computed.
        let mut stored: KeyMap<u128, StoredCall> = KeyMap::default();
        for f in functions {
            for v in scan.functions[f].versions.clone() {
                for entry in &scan.entries[scan.versions[v].entries.clone()] {
                    if !wanted.contains_key(&entry.key) {
                        continue;
                    }
                    let Some(meta) = self.entry_meta(scan, entry) else {
                        continue;
                    };
                    let why = meta.origin.miss.map(|miss| (miss.kind, miss.reason));
                    stored.insert(
                        entry.key,
                        StoredCall {
                            version: scan.versions[v].name.clone(),
                            call: meta.call,
                            created_ms: meta.created_ms,
                            why,
                        },
                    );
                }
            }
        }
        // Which record computed each stored entry: the earliest stored
        // miss of its key recorded after the entry was created.
        let mut wrote: KeyMap<u128, usize> = KeyMap::default();
        for (i, record) in records.iter().enumerate() {
            let Some(entry) = stored.get(&record.key) else {
                continue;
            };
            let after = record.time_ms.checked_sub(entry.created_ms);
            if record.miss.stored && after.is_some_and(|after| after <= WRITE_SLACK_MS) {
                // Records are newest first: a later one is earlier in time.
                wrote.insert(record.key, i);
            }
        }
        records
            .iter()
            .enumerate()
            .map(|(i, record)| {
                let entry = stored.get(&record.key);
                let full = entry
                    .filter(|_| wrote.get(&record.key) == Some(&i))
                    .and_then(|entry| entry.why.as_ref())
                    .filter(|(kind, _)| kind == record.miss.reason.as_str())
                    .map(|(_, reason)| reason.clone());
                MissRow {
                    key: record.key,
                    version: entry.map(|entry| entry.version.clone()),
                    call: entry.map(|entry| entry.call.clone()),
                    computed: sys::time_of(record.time_ms),
                    kind: record.miss.reason,
                    reason: full.unwrap_or_else(|| words(record.miss.reason)),
                    stored: record.miss.stored,
                    duration: (record.duration_us != UNKNOWN)
                        .then(|| Duration::from_micros(record.duration_us)),
                }
            })
            .collect()
    }

    /// Whether the stored results of an `ignore_code` function were
    /// computed by more than one code fingerprint. Reads the metadata of
    /// every entry of a version directory whose first readable entry was
    /// stored with `ignore_code`, and of no more in the others: without it
    /// a version directory is named by the code itself, so it holds one.
    fn kept(&self, scan: &Scan, function: usize) -> Option<Kept> {
        let mut kept = None;
        for v in scan.functions[function].versions.clone() {
            let mut codes: Vec<String> = Vec::new();
            let mut kept_version = None;
            for entry in &scan.entries[scan.versions[v].entries.clone()] {
                let Some(meta) = self.entry_meta(scan, entry) else {
                    continue;
                };
                if !meta.origin.ignore_code && codes.is_empty() {
                    break;
                }
                if meta.origin.ignore_code && !codes.contains(&meta.origin.code) {
                    codes.push(meta.origin.code.clone());
                    kept_version = meta.origin.version.clone();
                }
            }
            if codes.len() > 1 {
                kept = Some(Kept {
                    version: kept_version,
                    codes: codes.len(),
                });
            }
        }
        kept
    }
}

/// What the stored entry of a listed miss's key says.
struct StoredCall {
    version: String,
    call: String,
    created_ms: u64,
    /// The kind and words of the miss that computed it, if recorded.
    why: Option<(String, String)>,
}

/// A reason in words when only its kind is recorded.
fn words(kind: MissKind) -> String {
    match kind {
        MissKind::Unknown => "not recorded (recorded before reasons were)".to_owned(),
        kind => kind.as_str().to_owned(),
    }
}
