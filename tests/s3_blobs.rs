//! Content-addressed large outputs on a shared S3 store, against a real S3
//! server (`bash scripts/test.sh` starts moto; without it these fail,
//! saying so). Arrays of 1 MiB or more are stored once per content digest
//! in the bucket (`.blobs/<digest>.blob`), whatever function, key or
//! machine produced them; a sweep removes a blob only when no entry refers
//! to it and it was neither uploaded nor marked in use for the grace period
//! (`MEMO_BLOB_GRACE`, short here). Machines are separate processes with
//! local tiers of their own.

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::time::Duration;

use memo_tests::{Bucket, Run, run_with};
use memory::entry::Entry;
use memory::manage::{Cache, NoProgress};
use memory::store::Store;

const WORKER: &str = env!("CARGO_BIN_EXE_blob_worker");

/// The grace period the processes of these tests sweep with.
const GRACE: Duration = Duration::from_secs(8);

/// The test's own prefix of the bucket, shared by the worker "machines".
struct Shared(Bucket);

impl std::ops::Deref for Shared {
    type Target = Bucket;
    fn deref(&self) -> &Bucket {
        &self.0
    }
}

impl Shared {
    fn new(test: &str) -> Shared {
        Shared(Bucket::new(test, WORKER))
    }

    fn command(&self, machine: &str, args: &[&str]) -> Command {
        let mut command = self.machine(machine);
        command
            .env("MEMO_BLOB_GRACE", format!("{}s", GRACE.as_secs()))
            .args(args);
        command
    }

    /// [`command`](Self::command), sweeping with a grace period of
    /// `grace`.
    fn command_with_grace(&self, machine: &str, args: &[&str], grace: Duration) -> Command {
        let mut command = self.command(machine, args);
        command.env("MEMO_BLOB_GRACE", format!("{}ms", grace.as_millis()));
        command
    }

    /// Runs the worker as machine `machine`; it must say `ok`.
    fn worker(&self, machine: &str, args: &[&str]) -> Run {
        let run = run_with(&mut self.command(machine, args));
        assert_eq!(run.count("ok"), 1, "{run:#?}");
        run
    }

    /// The objects in the store: path → size.
    fn sizes(&self) -> HashMap<String, u64> {
        self.store
            .list("")
            .unwrap()
            .into_iter()
            .map(|o| (o.path, o.size))
            .collect()
    }

    /// The blob objects in the store: path → size.
    fn blobs(&self) -> HashMap<String, u64> {
        self.sizes()
            .into_iter()
            .filter(|(path, _)| path.starts_with(".blobs/") && path.ends_with(".blob"))
            .collect()
    }

    /// The blob paths the entries in the store refer to, read with memo's
    /// own entry parser.
    fn referenced(&self) -> HashSet<String> {
        let mut referenced = HashSet::new();
        for path in self.entries() {
            let Some(bytes) = self.store.get(&path).unwrap() else {
                continue;
            };
            let entry = Entry::parse(&bytes, None).expect("entries are whole");
            for blob in entry.blob_refs() {
                referenced.insert(format!(".blobs/{:032x}.blob", blob.digest));
            }
        }
        referenced
    }
}

fn computed(run: &Run) -> usize {
    run.stdout
        .lines()
        .filter(|l| l.starts_with("computing"))
        .count()
}

/// 16 MiB of `f64`.
const N: usize = 2 << 20;
const SIZE: u64 = (N * 8) as u64;

#[test]
fn two_functions_returning_the_same_array_store_one_blob_in_the_bucket() {
    let shared = Shared::new("blobs-dedup");
    let run = shared.worker("a", &["same", &N.to_string()]);
    assert_eq!(computed(&run), 2, "{run:#?}");
    let blobs = shared.blobs();
    assert_eq!(blobs.len(), 1, "one blob for both results: {blobs:?}");
    assert_eq!(blobs.values().next(), Some(&SIZE));
    let total: u64 = shared.sizes().values().sum();
    assert!(
        (SIZE..SIZE + (1 << 20)).contains(&total),
        "{total} bytes in the bucket for two 16 MiB results of one content"
    );
    // Another machine, with an empty local tier, hits both, fetching the
    // blob once into its own tier's blob area.
    let run = shared.worker("b", &["same", &N.to_string()]);
    assert_eq!(computed(&run), 0, "{run:#?}");
    let local_blobs: Vec<_> = std::fs::read_dir(shared.tier("b").join(".blobs"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "blob"))
        .collect();
    assert_eq!(local_blobs.len(), 1);
    // Sizes count the blob once, shared between the two entries.
    let cache = Cache::open(&shared.url).unwrap();
    let scan = cache.scan(&NoProgress).unwrap();
    assert_eq!(scan.entry_count(), 2);
    let bytes = scan.total_bytes();
    assert!(
        (SIZE..SIZE + (1 << 20)).contains(&bytes),
        "sizes say {bytes}"
    );
}

#[test]
fn a_vanished_blob_is_a_miss_and_is_stored_again() {
    let shared = Shared::new("blobs-vanished");
    shared.worker("a", &["same", &N.to_string()]);
    let blobs = shared.blobs();
    let [blob] = blobs.keys().collect::<Vec<_>>()[..] else {
        panic!("one blob: {blobs:?}");
    };
    shared.store.delete(blob).unwrap();
    // A machine without the blob locally recomputes the first call (never
    // a wrong hit); the recomputation stores the blob again, locally and
    // for everybody, so the second call hits.
    let run = shared.worker("b", &["same", &N.to_string()]);
    assert_eq!(computed(&run), 1, "{run:#?}");
    assert_eq!(shared.blobs(), blobs, "stored again");
    assert!(shared.referenced().iter().all(|r| blobs.contains_key(r)));
    let run = shared.worker("c", &["same", &N.to_string()]);
    assert_eq!(computed(&run), 0, "{run:#?}");
}

#[test]
fn a_damaged_blob_in_the_bucket_is_recomputed_and_replaced() {
    let shared = Shared::new("blobs-damaged");
    shared.worker("a", &["same", &N.to_string()]);
    let blobs = shared.blobs();
    let blob = blobs.keys().next().unwrap().clone();
    let mut bytes = shared.store.get(&blob).unwrap().unwrap();
    bytes[1000] ^= 0x10;
    shared.store.put(&blob, &[&bytes]).unwrap();
    // `memo verify` on the store reads the blob and finds it damaged.
    let cache = Cache::open(&shared.url).unwrap();
    let scan = cache.scan(&NoProgress).unwrap();
    let verified = cache.verify(&scan, false, &NoProgress).unwrap();
    assert_eq!(verified.problems.len(), 1, "{:?}", verified.problems);
    assert_eq!(verified.problems[0].path, blob);
    assert!(
        shared.blobs().contains_key(&blob),
        "verify alone removes nothing"
    );
    // The damage is never served: the first call recomputes, replacing
    // the blob, and the second hits the replacement.
    let run = shared.worker("b", &["same", &N.to_string()]);
    assert_eq!(computed(&run), 1, "{run:#?}");
    let run = shared.worker("c", &["same", &N.to_string()]);
    assert_eq!(computed(&run), 0, "replaced whole: {run:#?}");
}

#[test]
fn concurrent_writers_and_sweeps_never_remove_a_referenced_blob() {
    let shared = Shared::new("blobs-concurrent");
    // The store exists before the machines race on it.
    shared.worker("seed", &["write-own", "0", "1"]);
    // Three writers, each with three contents of its own, and a machine
    // removing entries and sweeping meanwhile with a short grace period,
    // so that blobs really go while others are being written and reused.
    let short = Duration::from_secs(3);
    let workers: Vec<_> = [
        ("a", vec!["write-own", "1", "8"]),
        ("b", vec!["write-own", "2", "8"]),
        ("c", vec!["write-own", "3", "8"]),
        ("d", vec!["reduce", "30", "300"]),
    ]
    .into_iter()
    .map(|(machine, args)| {
        let mut command = shared.command_with_grace(machine, &args, short);
        std::thread::spawn(move || run_with(&mut command))
    })
    .collect();
    for worker in workers {
        let run = worker.join().unwrap();
        assert_eq!(run.count("ok"), 1, "{run:#?}");
    }
    // Each content is stored once at most, and every blob an entry refers
    // to is there.
    let blobs = shared.blobs();
    assert!(blobs.len() <= 12, "{blobs:?}");
    let referenced = shared.referenced();
    assert!(!referenced.is_empty());
    for blob in &referenced {
        assert!(blobs.contains_key(blob), "{blob} is referenced and gone");
    }
    // A sweep within the grace period removes no blob, even unreferenced:
    // a writer elsewhere may be about to refer to it. (A new writer's
    // blobs, just uploaded.)
    shared.worker("e", &["write-own", "9", "3"]);
    let new: Vec<String> = shared
        .blobs()
        .into_keys()
        .filter(|blob| !blobs.contains_key(blob))
        .collect();
    assert_eq!(new.len(), 3, "{new:?}");
    shared.worker("d", &["clear"]);
    assert!(shared.referenced().is_empty(), "every entry is gone");
    let after_clear = shared.blobs();
    for blob in &new {
        assert!(
            after_clear.contains_key(blob),
            "young {blob} outlives a clear"
        );
    }
    // Once the grace period passed, the next sweep removes them, and every
    // use mark.
    std::thread::sleep(GRACE + Duration::from_secs(1));
    shared.worker("d", &["clear"]);
    let left: Vec<String> = shared
        .sizes()
        .into_keys()
        .filter(|p| p.starts_with(".blobs/"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn clearing_a_store_leaves_objects_that_are_not_memos() {
    let shared = Shared::new("blobs-ownership");
    shared.worker("a", &["write-own", "5", "1"]);
    let foreign = [
        "notes.txt",
        ".blobs/README",
        "my_data/results.csv",
        ".usage/not..ours/x",
    ];
    for path in foreign {
        shared.store.put(path, &[b"the user's"]).unwrap();
    }
    std::thread::sleep(GRACE + Duration::from_secs(1));
    shared.worker("a", &["clear"]);
    let mut left: Vec<String> = shared.sizes().into_keys().collect();
    left.sort();
    let mut expected: Vec<String> = foreign.iter().map(|p| p.to_string()).collect();
    expected.sort();
    assert_eq!(left, expected, "only memo's objects go");
}
