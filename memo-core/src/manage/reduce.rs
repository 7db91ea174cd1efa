//! Reducing a cache to its limits: stale code versions, then entries unused
//! for longer than the age limit, then least recently used entries until
//! the size and count limits hold.
//!
//! Last use comes from memo's usage records, falling back to the entry
//! file's modification time (when it was written) for entries without
//! records. One walk of the cache (sizes and times only), one sort, and
//! parallel `unlinkat` calls: a million entries take seconds.

use std::collections::BTreeMap;
use std::io;
use std::time::SystemTime;

use super::backend::Leftovers;
use super::scan::{Scan, ScannedEntry};
use super::usage::Usage;
use super::{Cache, Limits, Progress};
use crate::store::owned::Proof;
use crate::sys;

/// Temp files older than this are left by a crash, not a write in progress.
const TEMP_GRACE_MS: u64 = 3600 * 1000;

/// A count of entries and their bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// How many entries.
    pub entries: u64,
    /// Their total length in bytes.
    pub bytes: u64,
}

impl Tally {
    pub(crate) fn add(&mut self, bytes: u64) {
        self.entries += 1;
        self.bytes += bytes;
    }

    fn take(&mut self, bytes: u64) {
        self.entries = self.entries.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(bytes);
    }
}

impl Reduced {
    /// Moves the entries that were to go but stayed (`failed`, indices
    /// into `scan`) from what the report says was removed to what is left:
    /// a report says what happened, not what was planned.
    fn settle_failures(&mut self, scan: &Scan, left: &Leftovers, reasons: &[Option<Reason>]) {
        self.failed = left.failed.len() as u64;
        self.kept = left.foreign.len() as u64;
        for &i in left.failed.iter().chain(&left.foreign) {
            let entry = &scan.entries[i];
            self.removed.take(entry.size);
            self.after.add(entry.size);
            match reasons[i] {
                Some(Reason::Stale) => self.stale.take(entry.size),
                Some(Reason::Expired) => self.expired.take(entry.size),
                Some(Reason::Evicted) => self.evicted.take(entry.size),
                None => {}
            }
            let function = &scan.functions[scan.versions[entry.version as usize].function].name;
            if let Some(row) = self.functions.iter_mut().find(|row| &row.dir == function) {
                row.removed.take(entry.size);
            }
        }
    }
}

/// How a reduction runs.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ReduceOptions {
    /// Only report what would be removed.
    pub dry_run: bool,
}

impl ReduceOptions {
    /// Report only, remove nothing.
    pub fn dry_run(mut self, dry_run: bool) -> ReduceOptions {
        self.dry_run = dry_run;
        self
    }
}

/// What a reduction removed (or, in a dry run, would remove).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Reduced {
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// The cache before.
    pub before: Tally,
    /// Everything removed.
    pub removed: Tally,
    /// Of those, entries of stale code versions.
    pub stale: Tally,
    /// Of those, entries unused for longer than the age limit.
    pub expired: Tally,
    /// Of those, least recently used entries over the size or count limit.
    pub evicted: Tally,
    /// The cache after.
    pub after: Tally,
    /// Leftover temp files removed (crashed writes, older than an hour).
    pub temp_files: Tally,
    /// Entries that could not be removed (a read-only cache).
    pub failed: u64,
    /// Files named like entries that are not memo's: left where they are.
    pub kept: u64,
    /// What was removed, per function directory that lost anything.
    pub functions: Vec<FunctionRemoval>,
}

/// What a reduction removed from one function.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FunctionRemoval {
    /// The function's directory name.
    pub dir: String,
    /// Its identity, when known.
    pub identity: Option<String>,
    /// The entries removed.
    pub removed: Tally,
    /// Code versions removed whole.
    pub versions: Vec<String>,
}

/// Why an entry goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    Stale,
    Expired,
    Evicted,
}

/// When an entry was last used: its usage records, else when it was
/// written.
pub(crate) fn last_use_ms(usage: &Usage, entry: &ScannedEntry) -> u64 {
    usage
        .keys
        .get(&entry.key)
        .map_or(entry.mtime_ms, |k| k.last_use_ms)
}

/// The current code version of each function of a scan, by version index:
/// the one named in `.current`, else the most recently used one.
pub(crate) fn current_versions(scan: &Scan, usage: &Usage) -> Vec<Option<usize>> {
    scan.functions
        .iter()
        .map(|function| {
            let versions = function.versions.clone();
            if let Some(current) = &function.current {
                // A current version without entries yet is still current:
                // every other one is stale.
                return Some(
                    versions
                        .clone()
                        .find(|&v| scan.versions[v].name == current.version)
                        .unwrap_or(usize::MAX),
                );
            }
            versions.max_by_key(|&v| {
                scan.entries[scan.versions[v].entries.clone()]
                    .iter()
                    .map(|e| last_use_ms(usage, e))
                    .max()
                    .unwrap_or(0)
            })
        })
        .collect()
}

/// Why each entry of `scan` goes (by index; `None`: it stays), and the
/// stale code versions (indices into `scan.versions`): stale versions
/// first (if asked), then entries unused for longer than the age limit,
/// then least recently used entries until the size and count limits hold.
fn choose(
    scan: &Scan,
    usage: &Usage,
    limits: &Limits,
    now: u64,
) -> (Vec<Option<Reason>>, Vec<usize>) {
    let last_use: Vec<u64> = scan.entries.iter().map(|e| last_use_ms(usage, e)).collect();
    let mut reasons: Vec<Option<Reason>> = vec![None; scan.entries.len()];
    let mut stale_versions = Vec::new();
    if limits.stale {
        for (function, current) in current_versions(scan, usage).into_iter().enumerate() {
            for version in scan.functions[function].versions.clone() {
                if Some(version) != current {
                    stale_versions.push(version);
                    for i in scan.versions[version].entries.clone() {
                        reasons[i] = Some(Reason::Stale);
                    }
                }
            }
        }
    }
    if let Some(age) = limits.age {
        let cutoff = now.saturating_sub(u64::try_from(age.as_millis()).unwrap_or(u64::MAX));
        for (i, reason) in reasons.iter_mut().enumerate() {
            if reason.is_none() && last_use[i] < cutoff {
                *reason = Some(Reason::Expired);
            }
        }
    }
    let mut remaining = Tally::default();
    let mut candidates = Vec::new();
    for (i, entry) in scan.entries.iter().enumerate() {
        if reasons[i].is_none() {
            remaining.add(entry.size);
            candidates.push(i);
        }
    }
    if limits.over(&remaining) {
        // Least recently used first; the key breaks ties so the order is
        // the same on every run.
        candidates.sort_unstable_by_key(|&i| (last_use[i], scan.entries[i].key));
        for i in candidates {
            if !limits.over(&remaining) {
                break;
            }
            reasons[i] = Some(Reason::Evicted);
            remaining.entries -= 1;
            remaining.bytes -= scan.entries[i].size;
        }
    }
    (reasons, stale_versions)
}

impl Cache {
    /// Reduces the cache to `limits`: stale code versions first (if asked),
    /// then entries unused for longer than the age limit, then least
    /// recently used entries until the size and count limits hold. Leftover
    /// temp files older than an hour go too.
    pub fn reduce(
        &self,
        limits: &Limits,
        options: &ReduceOptions,
        progress: &dyn Progress,
    ) -> io::Result<Reduced> {
        let scan = self.scan(progress)?;
        let now = sys::millis(self.now());
        let mut report = Reduced {
            dry_run: options.dry_run,
            ..Reduced::default()
        };
        for entry in &scan.entries {
            report.before.add(entry.size);
        }
        // Usage records only order entries by last use: with no age limit,
        // no stale versions asked for and the cache within its size and
        // count limits, nothing goes whatever they say, and they are not
        // read (the common case of a periodic check).
        let chosen = if limits.stale || limits.age.is_some() || limits.over(&report.before) {
            let usage = self.usage()?;
            let chosen = choose(&scan, &usage, limits, now);
            Some((chosen, usage))
        } else {
            None
        };
        let (reasons, stale_versions) = match &chosen {
            Some(((reasons, stale), _)) => (reasons.as_slice(), stale.as_slice()),
            None => (&[][..], &[][..]),
        };
        // The report, per reason and per function.
        let mut per_function: BTreeMap<usize, Tally> = BTreeMap::new();
        let mut victims = Vec::new();
        for (i, entry) in scan.entries.iter().enumerate() {
            let Some(reason) = reasons.get(i).copied().flatten() else {
                report.after.add(entry.size);
                continue;
            };
            report.removed.add(entry.size);
            match reason {
                Reason::Stale => report.stale.add(entry.size),
                Reason::Expired => report.expired.add(entry.size),
                Reason::Evicted => report.evicted.add(entry.size),
            }
            per_function
                .entry(scan.versions[entry.version as usize].function)
                .or_default()
                .add(entry.size);
            victims.push(i);
        }
        let temps: Vec<usize> = (0..scan.temps.len())
            .filter(|&t| scan.temps[t].mtime_ms + TEMP_GRACE_MS < now)
            .collect();
        for &t in &temps {
            report.temp_files.add(scan.temps[t].size);
        }
        for function in stale_versions
            .iter()
            .map(|&v| scan.versions[v].function)
            .chain(per_function.keys().copied())
            .collect::<std::collections::BTreeSet<_>>()
        {
            let dir = &scan.functions[function];
            report.functions.push(FunctionRemoval {
                dir: dir.name.clone(),
                identity: dir.current.as_ref().map(|c| c.identity.clone()),
                removed: per_function.get(&function).copied().unwrap_or_default(),
                versions: stale_versions
                    .iter()
                    .filter(|&&v| scan.versions[v].function == function)
                    .map(|&v| scan.versions[v].name.clone())
                    .collect(),
            });
        }
        if options.dry_run {
            return Ok(report);
        }
        // Each removal proves the directory is a cache first: none is
        // asked for when there is nothing to remove.
        let left = if victims.is_empty() {
            Leftovers::default()
        } else {
            self.backend()
                .remove_entries(&scan, &victims, Proof::Format, progress)?
        };
        report.settle_failures(&scan, &left, reasons);
        if !temps.is_empty() {
            report.temp_files = self.backend().remove_temps(&scan, &temps);
        }
        self.remove_stale_leases();
        // Version directories left empty go; a function's own directory
        // (and its `.current`) stays.
        let mut emptied: Vec<usize> = victims
            .iter()
            .map(|&i| scan.entries[i].version as usize)
            .chain(stale_versions.iter().copied())
            .collect();
        emptied.dedup();
        if !emptied.is_empty() {
            self.backend().remove_empty_versions(&scan, &emptied);
        }
        // Forget the removed entries' records (their counts stay in their
        // functions' totals), and those of entries that are gone anyway.
        let removed: sys::KeyMap<u128, ()> = victims
            .iter()
            .filter(|&&i| !left.contains(i))
            .map(|&i| (scan.entries[i].key, ()))
            .collect();
        match chosen {
            // The records were read a moment ago: compaction starts from
            // them if the summary did not change since.
            Some((_, usage)) => {
                let mut edit = Some(|usage: &mut Usage| {
                    for key in removed.keys() {
                        usage.retire(*key, None);
                    }
                });
                self.backend()
                    .compact_usage(&scan, Some(usage), &mut |usage| {
                        if let Some(edit) = edit.take() {
                            edit(usage);
                        }
                    })?;
            }
            // Nothing was removed: only logs of finished processes need
            // folding.
            None => self.backend().fold_usage(&scan)?,
        }
        Ok(report)
    }

    /// Compacts the usage records, letting `edit` change them (once), and
    /// retires the records of entries that no longer exist (older than
    /// `scan`).
    pub(crate) fn forget(&self, scan: &Scan, edit: impl FnOnce(&mut Usage)) -> io::Result<()> {
        let mut edit = Some(edit);
        self.backend().compact_usage(scan, None, &mut |usage| {
            if let Some(edit) = edit.take() {
                edit(usage);
            }
        })
    }

    /// The time to measure ages against.
    pub(crate) fn now(&self) -> SystemTime {
        self.now.unwrap_or_else(SystemTime::now)
    }
}
