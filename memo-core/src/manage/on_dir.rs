//! [`Backend`] for a cache in a local directory: walks with `getdents`,
//! removes with `unlinkat` after an ownership proof (`store::owned`), on
//! several threads; usage records in `.usage/`.

use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, Mode};
use rustix::io::Errno;

use super::Progress;
use super::backend::{Backend, FunctionsRemoved, Leftovers};
use super::reduce::Tally;
use super::scan::{self, Scan, ScannedEntry};
use super::scan_index::{self, Index, Stamp};
use super::settled::Settled;
use crate::access::Access;
use crate::layout;
use crate::store::owned::{self, Proof};
use crate::store::read;
use crate::store::{BlobSweep, blobs};
use crate::sys;
use crate::usage::{self, Record, Usage};

/// Entries removed per unit of parallel work.
const CHUNK: usize = 1024;
/// Threads removing entries: an unlink mostly waits for the file system,
/// so a few more threads than cores overlap those waits.
const REMOVERS: usize = 4;

/// A cache directory.
#[derive(Debug)]
pub(crate) struct OnDir {
    pub root: PathBuf,
    pub access: Access,
}

impl OnDir {
    fn file_mode(&self) -> Mode {
        Mode::from_raw_mode(self.access.file_mode())
    }

    /// The cache directory, opened after checking (again: it may have been
    /// replaced since it was opened as a cache) that it is memo's. Every
    /// removal starts here.
    fn open_root(&self) -> io::Result<OwnedFd> {
        crate::store::claim::verify(&self.root, self.access)
    }
}

impl Backend for OnDir {
    fn scan(&self, progress: &dyn Progress) -> io::Result<Scan> {
        let settled = Settled::new(&self.root);
        let previous = scan_index::read(&self.root, settled.walk_ms());
        let (mut scan, stamps) = scan::scan(&self.root, progress, previous.as_ref(), &settled)?;
        let root = sys::open_root(&self.root)?;
        let blobs_stat = || rustix::fs::statat(&root, layout::BLOBS_DIR, AtFlags::SYMLINK_NOFOLLOW);
        let blobs = match blobs_stat() {
            // The blob area as the index has it: nothing changed since the
            // walk that trusted its stamp.
            Ok(stat)
                if previous
                    .as_ref()
                    .and_then(|p| p.blobs)
                    .is_some_and(|known| Stamp::read(&stat) == Some(known)) =>
            {
                Stamp::read(&stat)
            }
            Ok(_) => {
                // Judged against a time taken before this `stat`.
                settled.take();
                match blobs_stat() {
                    Ok(stat) => Stamp::of(&stat, &settled),
                    Err(Errno::NOENT) => Some(Stamp::ABSENT),
                    Err(_) => None,
                }
            }
            Err(Errno::NOENT) => Some(Stamp::ABSENT),
            Err(_) => None,
        };
        let unchanged = previous
            .as_ref()
            .is_some_and(|p| p.unchanged(&scan, &stamps, blobs));
        if unchanged && let Some(previous) = &previous {
            // The same entries and blobs as the last walk: the same shares.
            let charges = previous.charges();
            if !charges.is_empty() {
                for entry in &mut scan.entries {
                    if let Some((size, disk)) = charges.get(&entry.key) {
                        entry.size += size;
                        entry.disk += disk;
                    }
                }
            }
        } else {
            let walked_ms = previous.as_ref().map_or(scan.started_ms, |p| p.walked_ms);
            let mut index = Index::of(&scan, &stamps, walked_ms);
            index.blobs = blobs;
            let raw: Vec<(u64, u64)> = scan.entries.iter().map(|e| (e.size, e.disk)).collect();
            charge_blobs(&root, &mut scan)?;
            index.charges = scan
                .entries
                .iter()
                .zip(raw)
                .filter(|(e, raw)| (e.size, e.disk) != *raw)
                .map(|(e, (size, disk))| (e.key, e.size - size, e.disk - disk))
                .collect();
            // What this walk found, for the next one (whatever asked for
            // the walk): directories changed later are listed again then.
            // Only into a directory proven to be a cache: never a file in
            // someone else's.
            if let Ok(root) = self.open_root() {
                scan_index::write(&root, self.access, &index);
            }
        }
        Ok(scan)
    }

    fn read_entry(&self, scan: &Scan, entry: &ScannedEntry) -> io::Result<Vec<u8>> {
        let root = sys::open_root(&self.root)?;
        let dir = scan::open_version(&root, scan, entry.version as usize)?;
        let name = layout::entry_name(entry.key);
        read::read_small(&dir, name.as_str(), u64::MAX)?
            .ok_or_else(|| io::ErrorKind::NotFound.into())
    }

    fn remove_entries(
        &self,
        scan: &Scan,
        victims: &[usize],
        proof: Proof,
        progress: &dyn Progress,
    ) -> io::Result<Leftovers> {
        let root = self.open_root()?;
        let left = remove_entries(&root, scan, victims, proof, progress);
        if !victims.is_empty() {
            blobs::sweep(&root, self.file_mode())?;
        }
        Ok(left)
    }

    fn sweep_blobs(&self) -> io::Result<BlobSweep> {
        blobs::sweep(&self.open_root()?, self.file_mode())
    }

    fn verify_blobs(&self, repair: bool) -> io::Result<Vec<blobs::Damaged>> {
        let root = if repair {
            self.open_root()?
        } else {
            sys::open_root(&self.root)?
        };
        blobs::verify(&root, repair)
    }

    fn remove_temps(&self, scan: &Scan, temps: &[usize]) -> Tally {
        let mut removed = Tally::default();
        let Ok(root) = self.open_root() else {
            return removed;
        };
        for &t in temps {
            let temp = &scan.temps[t];
            if let Ok(dir) = scan::open_version(&root, scan, temp.version)
                && owned::remove_temp(&dir, &temp.name).unwrap_or(false)
            {
                removed.add(temp.size);
            }
        }
        removed
    }

    fn remove_functions(&self, scan: &Scan, functions: &[usize]) -> io::Result<FunctionsRemoved> {
        let root = self.open_root()?;
        let mut done = FunctionsRemoved::default();
        for &f in functions {
            let name = &scan.functions[f].name;
            done.kept += owned::remove_function(&root, name)?.kept;
            if matches!(sys::open_dir(&root, name), Err(Errno::NOENT)) {
                done.removed.push(name.clone());
            }
        }
        blobs::sweep(&root, self.file_mode())?;
        Ok(done)
    }

    fn remove_empty_versions(&self, scan: &Scan, versions: &[usize]) {
        let Ok(root) = self.open_root() else {
            return;
        };
        for &version in versions {
            let dir = &scan.versions[version];
            if let Ok(function) = sys::open_dir(&root, &scan.functions[dir.function].name) {
                let _ = owned::remove_dir_if_empty(&function, &dir.name);
            }
        }
    }

    fn usage(&self) -> io::Result<Usage> {
        usage::load(&self.root)
    }

    fn compact_usage(
        &self,
        scan: &Scan,
        loaded: Option<Usage>,
        edit: &mut dyn FnMut(&mut Usage),
    ) -> io::Result<()> {
        let compacted = usage::compact_from(&self.root, self.access, loaded, |usage| {
            edit(usage);
            super::backend::retire_gone(usage, scan);
        });
        writable_or_not(compacted.map(drop))
    }

    fn fold_usage(&self, scan: &Scan) -> io::Result<()> {
        let folded = usage::compact_if_finished(&self.root, self.access, |usage| {
            super::backend::retire_gone(usage, scan);
        });
        writable_or_not(folded.map(drop))
    }

    fn usage_bytes(&self) -> u64 {
        std::fs::read_dir(self.root.join(layout::USAGE_DIR))
            .map(|dir| {
                dir.flatten()
                    .filter(|e| e.file_name() != layout::SCAN_INDEX)
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    fn write_log(&self, records: &[Record]) -> io::Result<()> {
        usage::write_log(&self.root, records, self.access)
    }
}

/// What compacting the usage records did, where a cache we may not write
/// to keeps its records as they are.
fn writable_or_not(compacted: io::Result<()>) -> io::Result<()> {
    match compacted {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            Ok(())
        }
        done => done,
    }
}

/// Removes the entries `victims` (indices into the scan) on several
/// threads, each only if it is memo's; says which stayed.
fn remove_entries(
    root: &OwnedFd,
    scan: &Scan,
    victims: &[usize],
    proof: Proof,
    progress: &dyn Progress,
) -> Leftovers {
    progress.start("Removing", Some(victims.len() as u64));
    // By directory, then inode: the file system frees them in sequence.
    let mut victims = victims.to_vec();
    victims.sort_unstable_by_key(|&i| (scan.entries[i].version, scan.entries[i].ino));
    let failed = Mutex::new(Vec::new());
    let foreign = Mutex::new(Vec::new());
    let next = AtomicU64::new(0);
    let chunks: Vec<&[usize]> = victims.chunks(CHUNK).collect();
    std::thread::scope(|threads| {
        for _ in 0..REMOVERS.min(chunks.len()) {
            threads.spawn(|| {
                let mut open: Option<(u32, OwnedFd)> = None;
                loop {
                    let chunk = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(chunk) = chunks.get(chunk) else {
                        break;
                    };
                    for &i in *chunk {
                        let entry = &scan.entries[i];
                        if open.as_ref().is_none_or(|(v, _)| *v != entry.version) {
                            match scan::open_version(root, scan, entry.version as usize) {
                                Ok(dir) => open = Some((entry.version, dir)),
                                // Its directory is gone: so is the entry.
                                Err(Errno::NOENT) => {
                                    open = None;
                                    continue;
                                }
                                Err(_) => {
                                    open = None;
                                    failed.lock().unwrap().push(i);
                                    continue;
                                }
                            }
                        }
                        let (_, dir) = open.as_ref().expect("opened above");
                        let name = layout::entry_name(entry.key);
                        let name = name.as_cstr();
                        match owned::remove_entry(dir, name, proof) {
                            Ok(true) => {}
                            // Gone already.
                            Ok(false) if !owned::exists(dir, name) => {}
                            Ok(false) => foreign.lock().unwrap().push(i),
                            Err(_) => failed.lock().unwrap().push(i),
                        }
                    }
                    progress.advance(chunk.len() as u64);
                }
            });
        }
    });
    progress.finish();
    Leftovers {
        failed: failed.into_inner().unwrap(),
        foreign: foreign.into_inner().unwrap(),
    }
}

/// Charges every entry its share of the blobs it refers to
/// ([`Scan::charge_blob_shares`]). Reads the head of every entry, and only
/// when the cache has blobs.
fn charge_blobs(root: &OwnedFd, scan: &mut Scan) -> io::Result<()> {
    let sizes = blobs::sizes(root)?;
    if sizes.is_empty() {
        return Ok(());
    }
    let mut refs: Vec<(usize, u128)> = Vec::new();
    for (v, version) in scan.versions.iter().enumerate() {
        let Ok(dir) = scan::open_version(root, scan, v) else {
            continue;
        };
        for i in version.entries.clone() {
            let name = layout::entry_name(scan.entries[i].key);
            for blob in blobs::entry_refs(&dir, name.as_str()) {
                if sizes.contains_key(&blob.digest) {
                    refs.push((i, blob.digest));
                }
            }
        }
    }
    scan.charge_blob_shares(refs, |digest| sizes[&digest]);
    Ok(())
}
