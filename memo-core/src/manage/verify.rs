//! Verifying a cache: every entry read and checked; with repair, the
//! damaged ones removed.

use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::backend::Leftovers;
use super::scan::{self, Scan};
use super::{Cache, Problem, Progress, Verified};
use crate::entry::Entry;
use crate::store::owned::Proof;

impl Cache {
    /// Reads every entry and checks it (header, lengths, checksum, key,
    /// metadata, and that it sits where its identity and fingerprint say);
    /// with `repair`, removes the damaged ones.
    ///
    /// An entry removed since the scan (a gc beside it) is gone, not
    /// damaged, and is not reported.
    pub fn verify(
        &self,
        scan: &Scan,
        repair: bool,
        progress: &dyn Progress,
    ) -> io::Result<Verified> {
        progress.start("Verifying", Some(scan.total_bytes()));
        let problems = Mutex::new(Vec::new());
        let next = AtomicU64::new(0);
        std::thread::scope(|threads| {
            for _ in 0..scan::threads().min(scan.versions.len().max(1)) {
                threads.spawn(|| {
                    loop {
                        let v = next.fetch_add(1, Ordering::Relaxed) as usize;
                        let Some(version) = scan.versions.get(v) else {
                            break;
                        };
                        let function = &scan.functions[version.function];
                        for i in version.entries.clone() {
                            let entry = &scan.entries[i];
                            let checked = match self.read_entry(scan, entry) {
                                Ok(bytes) => {
                                    check(&bytes, entry.key, &function.name, &version.name)
                                }
                                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                                Err(e) => Err(format!("cannot read it: {e}")),
                            };
                            if let Err(problem) = checked {
                                problems.lock().unwrap().push((i, problem));
                            }
                            progress.advance(entry.size);
                        }
                    }
                });
            }
        });
        progress.finish();
        let mut problems = problems.into_inner().unwrap();
        problems.sort_by_key(|(i, _)| *i);
        let mut verified = Verified::default();
        for entry in &scan.entries {
            verified.checked.add(entry.size);
        }
        let victims: Vec<usize> = problems.iter().map(|(i, _)| *i).collect();
        let left = if repair && !victims.is_empty() {
            let left = self.backend().remove_entries(
                scan,
                &victims,
                Proof::Damaged,
                &super::NoProgress,
            )?;
            let removed: Vec<u128> = victims
                .iter()
                .filter(|&&i| !left.contains(i))
                .map(|&i| scan.entries[i].key)
                .collect();
            self.forget(scan, |usage| {
                for &key in &removed {
                    usage.retire(key, None);
                }
            })?;
            left
        } else {
            Leftovers::default()
        };
        let damaged_blobs = self.backend().verify_blobs(repair)?;
        if repair {
            // Blobs of the entries just removed, and any left unreferenced.
            self.backend().sweep_blobs()?;
        }
        verified.problems = problems
            .into_iter()
            .map(|(i, problem)| Problem {
                path: scan.entry_path(&scan.entries[i]),
                problem: if left.foreign.contains(&i) {
                    format!("{problem}; named like an entry but not memo's: left in place")
                } else {
                    problem
                },
                size: scan.entries[i].size,
                removed: repair && !left.contains(i),
            })
            .collect();
        verified
            .problems
            .extend(damaged_blobs.into_iter().map(|blob| Problem {
                path: blob.path,
                problem: "a blob whose bytes do not match its digest".into(),
                size: blob.size,
                removed: blob.removed,
            }));
        Ok(verified)
    }
}

/// Checks an entry's bytes; says what is wrong.
pub(crate) fn check(
    bytes: &[u8],
    key: u128,
    function_dir: &str,
    version: &str,
) -> Result<(), String> {
    let entry = Entry::parse(bytes, Some(key)).map_err(|e| e.to_string())?;
    let meta = entry.meta().map_err(|e| e.to_string())?;
    if !crate::key::dir_holds(function_dir, &meta.identity) {
        return Err(format!(
            "it belongs to {} but sits in {function_dir}/",
            meta.identity
        ));
    }
    if !meta.fingerprint.starts_with(version) {
        return Err(format!(
            "its fingerprint {} does not match its code version directory {version}",
            meta.fingerprint
        ));
    }
    Ok(())
}
