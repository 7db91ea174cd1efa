//! A test's own prefix in the S3 test bucket, shared by "machines": worker
//! processes with the same store and a local tier each.

use std::path::PathBuf;
use std::process::Command;

use memory::store::{S3Store, Store};

/// A prefix of its own in the test bucket (see [`s3_test_url`](crate::s3_test_url)),
/// the store at it, and a directory for the machines' local tiers.
pub struct Bucket {
    /// The store's location, `s3://bucket/prefix`.
    pub url: String,
    /// The store, to look at (or damage) what the machines left.
    pub store: S3Store,
    tiers: tempfile::TempDir,
}

impl Bucket {
    /// A new prefix for the test named `test`.
    pub fn new(test: &str) -> Bucket {
        let url = crate::s3_test_url(test);
        Bucket {
            store: S3Store::from_url(&url).expect("an S3 store"),
            url,
            tiers: tempfile::Builder::new()
                .prefix("memo-s3-test-")
                .tempdir()
                .expect("a directory for the local tiers"),
        }
    }

    /// The local tier of machine `machine`.
    pub fn tier(&self, machine: &str) -> PathBuf {
        self.tiers.path().join(machine)
    }

    /// The program `exe` as machine `machine`: caching in the store, with
    /// its own local tier.
    pub fn machine(&self, exe: &str, machine: &str) -> Command {
        let mut command = Command::new(exe);
        command
            .env("MEMO_CACHE_DIR", &self.url)
            .env("MEMO_LOCAL_TIER", self.tier(machine));
        command
    }

    /// The paths of the prefix's objects that start with `start`, sorted.
    pub fn objects(&self, start: &str) -> Vec<String> {
        let mut paths: Vec<String> = self
            .store
            .list("")
            .expect("list the test prefix")
            .into_iter()
            .map(|object| object.path)
            .filter(|path| path.starts_with(start))
            .collect();
        paths.sort();
        paths
    }

    /// The entry objects, sorted.
    pub fn entries(&self) -> Vec<String> {
        let mut entries = self.objects("");
        entries.retain(|path| path.ends_with(".memo"));
        entries
    }
}
