//! The local filesystem store.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::Store;

/// Files memo keeps at the top of a cache directory; everything else there
/// is an entry directory.
const GITIGNORE: &str = ".gitignore";
const CACHEDIR_TAG: &str = "CACHEDIR.TAG";

/// A cache directory on a local filesystem.
#[derive(Debug)]
pub(crate) struct FsStore {
    root: PathBuf,
}

impl FsStore {
    /// Opens (creating if needed) the cache directory at `root`.
    ///
    /// A directory that exists but cannot be written to still opens: hits
    /// are served from it, and writes fail one by one (and are reported).
    pub(crate) fn open(root: &Path) -> io::Result<FsStore> {
        let root = std::path::absolute(root)?;
        fs::create_dir_all(&root)?;
        // Best effort: a read-only cache has no need for them.
        let _ = write_if_missing(
            &root.join(GITIGNORE),
            b"# Created by memo: this directory is a cache.\n*\n",
        );
        let _ = write_if_missing(
            &root.join(CACHEDIR_TAG),
            b"Signature: 8a477f597d28d172789f06886806bc55\n# This directory is a memo cache.\n",
        );
        Ok(FsStore { root })
    }
}

fn write_if_missing(path: &Path, contents: &[u8]) -> io::Result<()> {
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(mut file) => file.write_all(contents),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

impl Store for FsStore {
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.root.join(path)) {
            Ok(bytes) => Ok(Some(bytes)),
            // A missing directory on the way means no entry either.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn write(&self, path: &str, bytes: &[u8]) -> io::Result<()> {
        let target = self.root.join(path);
        let dir = target.parent().expect("entry paths have a directory");
        // Write a temp file beside the target and rename it over: readers
        // never see a partial entry, and a crash leaves only a `.tmp` file.
        // No fsync: a torn file after a power loss fails its checksum and is
        // recomputed, so durability buys nothing a cache needs.
        let temp = match temp_file_in(dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(dir)?;
                temp_file_in(dir)?
            }
            other => other?,
        };
        temp.as_file().write_all(bytes)?;
        temp.persist(&target).map_err(|e| e.error)?;
        Ok(())
    }

    fn clear(&self) -> io::Result<()> {
        for child in fs::read_dir(&self.root)? {
            let child = child?;
            let name = child.file_name();
            if name == GITIGNORE || name == CACHEDIR_TAG {
                continue;
            }
            // `file_type` does not follow symlinks: a planted link is
            // removed, never the directory it points to.
            if child.file_type()?.is_dir() {
                fs::remove_dir_all(child.path())?;
            } else {
                fs::remove_file(child.path())?;
            }
        }
        Ok(())
    }
}

fn temp_file_in(dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(".tmp-")
        .suffix(".memo")
        .tempfile_in(dir)
}
