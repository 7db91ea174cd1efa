//! A test's own prefix in the S3 test bucket, shared by "machines": worker
//! processes with the same store and a local tier each, running the test's
//! worker program.

use std::path::PathBuf;
use std::process::Command;

use memory::store::{S3Store, Store};

use crate::Run;

/// A prefix of its own in the test bucket (see [`s3_test_url`](crate::s3_test_url)),
/// the store at it, a directory for the machines' local tiers, and the
/// worker program the machines run.
pub struct Bucket {
    /// The store's location, `s3://bucket/prefix`.
    pub url: String,
    /// The store, to look at (or damage) what the machines left.
    pub store: S3Store,
    tiers: tempfile::TempDir,
    worker: &'static str,
}

impl Bucket {
    /// A new prefix for the test named `test`, whose machines run the
    /// program `worker`.
    pub fn new(test: &str, worker: &'static str) -> Bucket {
        let url = crate::s3_test_url(test);
        Bucket {
            worker,
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

    /// The worker as machine `machine`: caching in the store, with its own
    /// local tier.
    pub fn machine(&self, machine: &str) -> Command {
        let mut command = Command::new(self.worker);
        command
            .env("MEMO_CACHE_DIR", &self.url)
            .env("MEMO_LOCAL_TIER", self.tier(machine));
        command
    }

    /// Runs the worker as machine `machine` with `args`.
    pub fn run(&self, machine: &str, args: &[&str]) -> Run {
        crate::run_with(self.machine(machine).args(args))
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
