//! [`Backend`] for a cache in a shared object store (`s3://...`): scans
//! from one listing, removal by batched deletes, usage records kept in the
//! store (`remote.rs`), blobs shared by entries charged to them in equal
//! shares and swept with a grace period (`store/shared_blobs.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::Arc;

use super::Progress;
use super::backend::{Backend, FunctionsRemoved, Leftovers};
use super::current::Current;
use super::reduce::Tally;
use super::scan::{FunctionDir, Scan, ScannedEntry, TempFile, VersionDir};
use crate::layout::{self, TEMP_PREFIX, parse_entry_name};
use crate::store::blobs::Damaged;
use crate::store::owned::Proof;
use crate::store::{BlobSweep, Store, shared_blobs};
use crate::sys;
use crate::usage::{Record, Usage, dir_hash};

/// A cache in a shared store.
#[derive(Debug)]
pub(crate) struct OnStore {
    pub store: Arc<dyn Store>,
}

impl Backend for OnStore {
    fn scan(&self, progress: &dyn Progress) -> io::Result<Scan> {
        let mut scan = scan(&*self.store, progress)?;
        charge_blobs(&*self.store, &mut scan)?;
        Ok(scan)
    }

    fn read_entry(&self, scan: &Scan, entry: &ScannedEntry) -> io::Result<Vec<u8>> {
        self.store
            .get(&scan.entry_path(entry))?
            .ok_or_else(|| io::ErrorKind::NotFound.into())
    }

    fn remove_entries(
        &self,
        scan: &Scan,
        victims: &[usize],
        _proof: Proof,
        progress: &dyn Progress,
    ) -> io::Result<Leftovers> {
        // Entry objects are found by their names in memo's places (the
        // scan lists nothing else), and an object has no link to follow.
        let failed = remove_entries(&*self.store, scan, victims, progress);
        if !victims.is_empty() {
            self.sweep_blobs()?;
        }
        Ok(Leftovers {
            failed,
            foreign: Vec::new(),
        })
    }

    fn sweep_blobs(&self) -> io::Result<BlobSweep> {
        shared_blobs::sweep(&*self.store, shared_blobs::grace())
    }

    fn verify_blobs(&self, repair: bool) -> io::Result<Vec<Damaged>> {
        shared_blobs::verify(&*self.store, repair)
    }

    fn remove_temps(&self, scan: &Scan, temps: &[usize]) -> Tally {
        remove_temps(&*self.store, scan, temps);
        let mut removed = Tally::default();
        for &t in temps {
            removed.add(scan.temps[t].size);
        }
        removed
    }

    fn remove_functions(&self, scan: &Scan, functions: &[usize]) -> io::Result<FunctionsRemoved> {
        let mut done = FunctionsRemoved::default();
        for &f in functions {
            let name = &scan.functions[f].name;
            let mut paths = Vec::new();
            for object in self.store.list(name)? {
                // Only memo's own objects, in memo's own places.
                if layout::is_function_object(name, &object.path) {
                    paths.push(object.path);
                } else {
                    done.kept += 1;
                }
            }
            let failed = self.store.delete_many(&paths);
            if let Some(first) = failed.first() {
                return Err(io::Error::other(format!(
                    "cannot remove {}/{first} (and {} more)",
                    self.store.location(),
                    failed.len() - 1
                )));
            }
            done.removed.push(name.clone());
        }
        self.sweep_blobs()?;
        Ok(done)
    }

    fn remove_stale_leases(&self) -> io::Result<u64> {
        crate::store::owned::remove_stale_leases(&*self.store)
    }

    fn usage(&self) -> io::Result<Usage> {
        super::remote::load_usage(&*self.store)
    }

    fn compact_usage(
        &self,
        scan: &Scan,
        // The store's records are read again under its lease.
        _loaded: Option<Usage>,
        edit: &mut dyn FnMut(&mut Usage),
    ) -> io::Result<()> {
        super::remote::compact(&*self.store, Some(scan), edit).map(drop)
    }

    fn usage_bytes(&self) -> u64 {
        super::remote::usage_bytes(&*self.store)
    }

    fn write_log(&self, records: &[Record]) -> io::Result<()> {
        super::remote::write_log(&*self.store, records)
    }
}

/// Walks the store: one listing, plus one read per `.current`.
fn scan(store: &dyn Store, progress: &dyn Progress) -> io::Result<Scan> {
    let started_ms = sys::now_ms();
    progress.start("Listing", None);
    type Versions = BTreeMap<String, (Vec<ScannedEntry>, Vec<(String, u64, u64)>)>;
    let mut functions: BTreeMap<String, (bool, Versions)> = BTreeMap::new();
    for object in store.list("")? {
        let parts: Vec<&str> = object.path.split('/').collect();
        let mtime_ms = sys::millis(object.modified);
        match parts.as_slice() {
            [function, ".current"] if !function.starts_with('.') => {
                functions.entry((*function).to_owned()).or_default().0 = true;
            }
            [function, version, name]
                if !function.starts_with('.') && !version.starts_with('.') =>
            {
                let versions = &mut functions.entry((*function).to_owned()).or_default().1;
                let (entries, temps) = versions.entry((*version).to_owned()).or_default();
                if let Some(key) = parse_entry_name(name.as_bytes()) {
                    entries.push(ScannedEntry {
                        key,
                        ino: 0,
                        size: object.size,
                        disk: object.size,
                        mtime_ms,
                        version: 0,
                    });
                } else if name.starts_with(TEMP_PREFIX) {
                    temps.push(((*name).to_owned(), object.size, mtime_ms));
                }
            }
            _ => {}
        }
        progress.advance(1);
    }
    let mut scan = Scan {
        started_ms,
        ..Scan::default()
    };
    for (name, (has_current, versions)) in functions {
        let current = if has_current {
            store
                .get(&format!("{name}/{}", layout::CURRENT_FILE))?
                .and_then(|text| Current::parse(&text))
        } else {
            None
        };
        let function = scan.functions.len();
        let first = scan.versions.len();
        for (version, (mut entries, temps)) in versions {
            let index = scan.versions.len();
            entries.sort_unstable_by_key(|e| e.key);
            for entry in &mut entries {
                entry.version = index as u32;
            }
            let start = scan.entries.len();
            scan.entries.extend(entries);
            scan.temps
                .extend(temps.into_iter().map(|(name, size, mtime_ms)| TempFile {
                    version: index,
                    name,
                    size,
                    mtime_ms,
                }));
            scan.versions.push(VersionDir {
                function,
                name: version,
                entries: start..scan.entries.len(),
            });
        }
        scan.functions.push(FunctionDir {
            hash: dir_hash(&name),
            name,
            current,
            versions: first..scan.versions.len(),
        });
    }
    progress.finish();
    Ok(scan)
}

/// Charges every entry its share of the blobs it refers to, by the rule
/// of every backend ([`Scan::charge_blob_shares`]; a blob's bytes on disk
/// are its length here). Reads every entry, and only when the store has
/// blobs.
fn charge_blobs(store: &dyn Store, scan: &mut Scan) -> io::Result<()> {
    let blobs = shared_blobs::list(store)?.blobs;
    if blobs.is_empty() {
        return Ok(());
    }
    let mut refs: Vec<(usize, u128)> = Vec::new();
    for i in 0..scan.entries.len() {
        let path = scan.entry_path(&scan.entries[i]);
        for blob in shared_blobs::entry_refs(store, &path)? {
            if blobs.contains_key(&blob.digest) {
                refs.push((i, blob.digest));
            }
        }
    }
    scan.charge_blob_shares(refs, |digest| {
        let size = blobs[&digest].size;
        (size, size)
    });
    Ok(())
}

/// Removes the entries `victims` (indices into `scan`); returns those that
/// could not be removed.
fn remove_entries(
    store: &dyn Store,
    scan: &Scan,
    victims: &[usize],
    progress: &dyn Progress,
) -> Vec<usize> {
    progress.start("Removing", Some(victims.len() as u64));
    let mut failed = Vec::new();
    for chunk in victims.chunks(1000) {
        let paths: Vec<String> = chunk
            .iter()
            .map(|&i| scan.entry_path(&scan.entries[i]))
            .collect();
        let not_removed: BTreeSet<String> = store.delete_many(&paths).into_iter().collect();
        failed.extend(
            chunk
                .iter()
                .zip(&paths)
                .filter(|(_, path)| not_removed.contains(*path))
                .map(|(&i, _)| i),
        );
        progress.advance(chunk.len() as u64);
    }
    progress.finish();
    failed
}

/// Removes leftover temp objects (indices into `scan.temps`).
fn remove_temps(store: &dyn Store, scan: &Scan, temps: &[usize]) {
    let paths: Vec<String> = temps
        .iter()
        .map(|&t| {
            let temp = &scan.temps[t];
            let version = &scan.versions[temp.version];
            let function = &scan.functions[version.function];
            format!("{}/{}/{}", function.name, version.name, temp.name)
        })
        .collect();
    store.delete_many(&paths);
}
