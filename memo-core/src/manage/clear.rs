//! Clearing a cache: every entry of every function, or of one.

use std::io;

use super::scan::Scan;
use super::{Cache, Cleared, Progress};
use crate::store::owned::Proof;

impl Cache {
    /// Removes every entry, or those of one function (an index into
    /// `scan`), with their records; the function's directory goes too,
    /// unless something that is not memo's is left in it.
    ///
    /// Writers racing with a clear are normal on a shared cache: what they
    /// add after the clear began may stay, and that is no failure.
    pub fn clear(
        &self,
        scan: &Scan,
        function: Option<usize>,
        progress: &dyn Progress,
    ) -> io::Result<Cleared> {
        let functions: Vec<usize> = match function {
            Some(f) => vec![f],
            None => (0..scan.functions.len()).collect(),
        };
        let victims: Vec<usize> = functions
            .iter()
            .flat_map(|&f| scan.functions[f].versions.clone())
            .flat_map(|v| scan.versions[v].entries.clone())
            .collect();
        // Entries first, in parallel and counted; then whatever else of
        // memo's the function directories hold (entries written since the
        // scan, `.current`, temp files), and the directories once empty.
        let left = self
            .backend()
            .remove_entries(scan, &victims, Proof::Format, progress)?;
        let mut cleared = Cleared::default();
        for &i in &victims {
            if !left.contains(i) {
                cleared.removed.add(scan.entries[i].size);
            }
        }
        cleared.failed = left.failed.len() as u64;
        let functions_removed = self.backend().remove_functions(scan, &functions)?;
        if function.is_none() {
            self.remove_stale_leases();
        }
        cleared.functions = functions_removed.removed;
        cleared.kept = functions_removed.kept;
        let hashes: Vec<u64> = functions.iter().map(|&f| scan.functions[f].hash).collect();
        let all = function.is_none();
        self.forget(scan, |usage| {
            if all {
                usage.forget_all();
            } else {
                for &hash in &hashes {
                    usage.forget_function(hash);
                }
            }
        })?;
        Ok(cleared)
    }
}
