//! A read-only shared tier: a Memory that reads a shared S3 bucket and
//! never writes to it, against a real S3 server (`bash scripts/test.sh`
//! starts moto and sets `AWS_ENDPOINT_URL` and `MEMO_TEST_S3_BUCKET`;
//! without them these tests fail, saying so). The bucket is compared byte
//! for byte before and after.

use std::collections::BTreeMap;
use std::time::SystemTime;

use memo_tests::{Bucket, Run, entry_files, run_with};
use memory::store::Store;

const WORKER: &str = env!("CARGO_BIN_EXE_s3_lease_worker");

/// The test's own prefix of the bucket, shared by the worker "machines".
struct Shared(Bucket);

impl std::ops::Deref for Shared {
    type Target = Bucket;
    fn deref(&self) -> &Bucket {
        &self.0
    }
}

/// Every object of a prefix: its bytes and when it was last written.
type Snapshot = BTreeMap<String, (Vec<u8>, SystemTime)>;

impl Shared {
    fn new(test: &str) -> Shared {
        Shared(Bucket::new(test, WORKER))
    }

    /// Runs the worker as machine `machine`; `read_only`: how it is told
    /// to leave the bucket alone (environment or code), if at all.
    fn worker(&self, machine: &str, read_only: ReadOnly, args: &[&str]) -> Run {
        let mut command = self.machine(machine);
        command
            .env_remove("MEMO_STORE_READ_ONLY")
            .env_remove("S3_LEASE_WORKER_READ_ONLY")
            .args(args);
        match read_only {
            ReadOnly::No => {}
            ReadOnly::Environment => {
                command.env("MEMO_STORE_READ_ONLY", "1");
            }
            ReadOnly::Option => {
                command.env("S3_LEASE_WORKER_READ_ONLY", "1");
            }
        }
        run_with(&mut command)
    }

    fn snapshot(&self) -> Snapshot {
        self.store
            .list("")
            .unwrap()
            .into_iter()
            .map(|o| {
                let bytes = self.store.get(&o.path).unwrap().expect("listed");
                (o.path, (bytes, o.modified))
            })
            .collect()
    }
}

#[derive(Clone, Copy)]
enum ReadOnly {
    No,
    Environment,
    Option,
}

fn computed(run: &Run) -> usize {
    run.stdout
        .lines()
        .filter(|l| l.starts_with("computing"))
        .count()
}

fn a_read_only_machine_leaves_the_bucket_untouched(how: ReadOnly, test: &str) {
    let shared = Shared::new(test);
    // The team's cache: square(1) and square(2), usage records and all.
    let team = shared.worker("team", ReadOnly::No, &["square", "1", "2"]);
    assert_eq!(computed(&team), 2, "{team:?}");
    let before = shared.snapshot();
    assert!(
        before.keys().any(|p| p.ends_with(".memo")) && before.contains_key("CACHEDIR.TAG"),
        "{:?}",
        before.keys()
    );

    // CI: hits come from the bucket, misses are computed and kept locally.
    let ci = shared.worker("ci", how, &["square", "1", "2", "3"]);
    assert_eq!(computed(&ci), 1, "{ci:?}");
    assert_eq!(ci.count("computing square(3)"), 1, "{ci:?}");
    for (x, y) in [(1, 1), (2, 4), (3, 9)] {
        assert_eq!(ci.count(&format!("square({x}) = {y}")), 1, "{ci:?}");
    }
    assert_eq!(
        entry_files(&shared.tier("ci")).len(),
        3,
        "all three kept locally"
    );
    // Its own misses are local hits from then on; a slow key takes no lease.
    let again = shared.worker("ci", how, &["square", "3"]);
    assert_eq!(computed(&again), 0, "{again:?}");
    let slow = shared.worker("ci", how, &["slow", "4", "10"]);
    assert_eq!(slow.count("slow(4) = 16"), 1, "{slow:?}");
    // Administration acts on the local tier only.
    let gc = shared.worker("ci", how, &["gc"]);
    assert_eq!(
        gc.count("reduced 4"),
        1,
        "the local tier's four entries: {gc:?}"
    );
    shared.worker("ci", how, &["square", "1"]);
    let cleared = shared.worker("ci", how, &["clear"]);
    assert_eq!(cleared.count("cleared"), 1, "{cleared:?}");
    assert!(entry_files(&shared.tier("ci")).is_empty());

    let after = shared.snapshot();
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "no object added or removed"
    );
    assert!(
        after == before,
        "every object byte for byte as it was, never rewritten"
    );
    // And the team still hits its results, and never sees CI's.
    let team = shared.worker("team", ReadOnly::No, &["square", "1", "3"]);
    assert_eq!(team.count("computing square(3)"), 1, "{team:?}");
    assert_eq!(computed(&team), 1, "{team:?}");
}

#[test]
fn memo_store_read_only_leaves_the_bucket_untouched() {
    a_read_only_machine_leaves_the_bucket_untouched(ReadOnly::Environment, "read-only-env");
}

#[test]
fn the_store_read_only_option_leaves_the_bucket_untouched() {
    a_read_only_machine_leaves_the_bucket_untouched(ReadOnly::Option, "read-only-option");
}
