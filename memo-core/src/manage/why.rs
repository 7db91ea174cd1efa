//! Why results were computed: every entry records the miss that wrote it
//! (its reason, in words and as a short kind), so a function's recent
//! misses and its misses by reason are read back from its entries — what
//! `memo why FUNCTION` and `memo stats --by-reason` show.
//!
//! Only misses that stored a result are there (an `Err` output stores
//! nothing), one per entry: a recomputation replaces the entry, and with it
//! the record of the miss before.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::{Cache, Scan};
use crate::entry::Entry;
use crate::sys;

/// One miss that stored a result.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MissRow {
    /// The entry it wrote.
    pub key: u128,
    /// Its code version.
    pub version: String,
    /// The call as written.
    pub call: String,
    /// When it was computed.
    pub computed: SystemTime,
    /// The reason's short name (`first call`, `code changed`, ...), or
    /// `unknown` for entries written before reasons were recorded.
    pub kind: String,
    /// The reason in words.
    pub reason: String,
}

/// The misses recorded in a function's entries (or a whole cache's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Misses {
    /// The most recent first, at most the limit asked for.
    pub recent: Vec<MissRow>,
    /// How many entries record each kind of reason.
    pub by_reason: BTreeMap<String, u64>,
    /// For an `ignore_code` function: stored results of one version that
    /// were computed by different code (an edit kept them).
    pub kept: Option<Kept>,
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

impl Cache {
    /// The misses recorded in the entries of the function at index
    /// `function` of `scan` (every function's with `None`), the `limit`
    /// most recent listed. Reads the metadata of every entry it covers.
    pub fn misses(&self, scan: &Scan, function: Option<usize>, limit: usize) -> Misses {
        let functions = match function {
            Some(f) => f..f + 1,
            None => 0..scan.functions.len(),
        };
        let mut misses = Misses::default();
        let mut rows = Vec::new();
        for f in functions {
            for v in scan.functions[f].versions.clone() {
                let mut codes: Vec<String> = Vec::new();
                let mut kept_version = None;
                for entry in &scan.entries[scan.versions[v].entries.clone()] {
                    let Some(meta) = self
                        .read_entry(scan, entry)
                        .ok()
                        .and_then(|bytes| Entry::parse(&bytes, Some(entry.key)).ok()?.meta().ok())
                    else {
                        continue;
                    };
                    if meta.origin.ignore_code && !codes.contains(&meta.origin.code) {
                        codes.push(meta.origin.code.clone());
                        kept_version = meta.origin.version.clone();
                    }
                    let (kind, reason) = match meta.origin.miss {
                        Some(miss) => (miss.kind, miss.reason),
                        None => ("unknown".to_owned(), "not recorded".to_owned()),
                    };
                    *misses.by_reason.entry(kind.clone()).or_default() += 1;
                    rows.push(MissRow {
                        key: entry.key,
                        version: scan.versions[v].name.clone(),
                        call: meta.call,
                        computed: sys::time_of(meta.created_ms),
                        kind,
                        reason,
                    });
                }
                if codes.len() > 1 {
                    misses.kept = Some(Kept {
                        version: kept_version,
                        codes: codes.len(),
                    });
                }
            }
        }
        rows.sort_by(|a, b| b.computed.cmp(&a.computed).then(a.key.cmp(&b.key)));
        rows.truncate(limit);
        misses.recent = rows;
        misses
    }
}
