//! What the benchmarks share: where their caches live.

use std::path::{Path, PathBuf};

/// A fresh directory for a benchmark's caches: at the top of the file system
/// when we may create one there (file creation is slow for minutes near
/// directories where many files were just deleted, such as `/tmp` after a
/// build), else in the temp dir. The caller removes it when done.
pub fn fresh_dir(prefix: &str) -> PathBuf {
    let fresh = |parent: &Path| tempfile::Builder::new().prefix(prefix).tempdir_in(parent);
    let dir = fresh("/".as_ref())
        .or_else(|_| fresh(&std::env::temp_dir()))
        .expect("a benchmark directory");
    dir.keep()
}
