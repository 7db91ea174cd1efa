//! Content-addressed large outputs: an array of 1 MiB or more is stored
//! once per content digest in the cache's blob area, whatever function or
//! key produced it; entries refer to it, and it goes exactly when nothing
//! refers to it any more — with writers and removals running concurrently
//! in separate processes. A damaged blob is caught and recomputed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use memo_tests::{bytes_under, cache_dir, entry_files, process_cache_dir, run_with};
use memory::manage::{Cache, NoProgress};
use memory::{Array, Memory, MmapMode};

static DEDUP_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static DEDUP: LazyLock<Memory> =
    LazyLock::new(|| Memory::new(DEDUP_DIR.as_path()).mmap_mode(MmapMode::ReadOnly));
static CORRUPT_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static CORRUPT: LazyLock<Memory> = LazyLock::new(|| Memory::new(CORRUPT_DIR.as_path()));

const WORKER: &str = env!("CARGO_BIN_EXE_blob_worker");

/// 64 MiB of `f64`.
const N: usize = 8 << 20;

fn ramp(n: usize) -> Vec<f64> {
    (0..n).map(|i| i as f64 * 0.25).collect()
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = DEDUP)]
fn first(n: usize) -> Array<f64> {
    RUNS.fetch_add(1, Ordering::SeqCst);
    ramp(n).into()
}

#[memory::cache(memory = DEDUP)]
fn second(n: usize, label: &str) -> Array<f64> {
    let _ = label;
    RUNS.fetch_add(1, Ordering::SeqCst);
    ramp(n).into()
}

fn blobs(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir.join(".blobs")) {
        Ok(read) => read
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "blob"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn two_functions_returning_the_same_array_store_it_once() {
    let dir = DEDUP_DIR.as_path();
    let a = first(N);
    let b = second(N, "x");
    let c = second(N, "another key");
    assert_eq!(RUNS.load(Ordering::SeqCst), 3);
    assert_eq!(a.digest(), b.digest());
    assert_eq!(a.as_slice(), c.as_slice());
    let size = (N * 8) as u64;
    let total = bytes_under(dir);
    assert!(
        total >= size && total < size + (1 << 20),
        "{total} bytes in the cache for three 64 MiB results of one content"
    );
    assert_eq!(blobs(dir).len(), 1);
    // Sizes count the blob once, split between the entries that hold it.
    let cache = Cache::open(dir).unwrap();
    let scan = cache.scan(&NoProgress).unwrap();
    let (_, bytes) = cache.function_totals(&scan, None);
    assert!(
        bytes >= size && bytes < size + (1 << 20),
        "totals say {bytes}"
    );
    // Hits map the shared blob.
    assert!(first(N).is_mapped());
    assert_eq!(RUNS.load(Ordering::SeqCst), 3);
    // Removing one function's entries keeps the blob the other refers to…
    memory::handle(|| first(N)).clear().unwrap();
    assert_eq!(blobs(dir).len(), 1);
    assert_eq!(second(N, "x").as_slice(), a.as_slice());
    assert_eq!(RUNS.load(Ordering::SeqCst), 3, "second still hits");
    // …and removing the last reference removes it; `a` stays readable (a
    // mapped blob survives its removal).
    DEDUP.clear().unwrap();
    assert!(blobs(dir).is_empty(), "no entry refers to the blob");
    assert_eq!(a[N - 1], (N - 1) as f64 * 0.25);
}

static CORRUPT_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = CORRUPT)]
fn loaded(n: usize) -> Array<f64> {
    CORRUPT_RUNS.fetch_add(1, Ordering::SeqCst);
    ramp(n).into()
}

#[test]
fn a_damaged_blob_is_caught_on_a_full_load_and_recomputed() {
    let n = 1 << 18; // 2 MiB
    loaded(n);
    let [blob] = &blobs(CORRUPT_DIR.as_path())[..] else {
        panic!("one blob");
    };
    let mut bytes = std::fs::read(blob).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x40;
    std::fs::write(blob, &bytes).unwrap();
    // verify finds it; repair removes it.
    let cache = Cache::open(CORRUPT_DIR.as_path()).unwrap();
    let scan = cache.scan(&NoProgress).unwrap();
    let verified = cache.verify(&scan, false, &NoProgress).unwrap();
    assert_eq!(verified.problems.len(), 1, "{:?}", verified.problems);
    assert!(verified.problems[0].path.starts_with(".blobs/"));
    assert!(blob.exists(), "verify without repair removes nothing");
    let repaired = cache.verify(&scan, true, &NoProgress).unwrap();
    assert!(repaired.problems[0].removed && !blob.exists());
    std::fs::write(blob, &bytes).unwrap();
    // A full load catches it too.
    assert_eq!(loaded(n).as_slice(), ramp(n), "recomputed, not the damage");
    assert_eq!(CORRUPT_RUNS.load(Ordering::SeqCst), 2);
    // The blob was stored again, whole: the next hit reads it.
    assert_eq!(loaded(n).as_slice(), ramp(n));
    assert_eq!(CORRUPT_RUNS.load(Ordering::SeqCst), 2);
    // A missing blob is a miss too.
    for blob in blobs(CORRUPT_DIR.as_path()) {
        std::fs::remove_file(blob).unwrap();
    }
    assert_eq!(loaded(n).as_slice(), ramp(n));
    assert_eq!(CORRUPT_RUNS.load(Ordering::SeqCst), 3);
}

/// The digests the entries below `dir` refer to, read with memo's own
/// entry parser.
fn referenced(dir: &Path) -> HashSet<String> {
    let mut digests = HashSet::new();
    for path in entry_files(dir) {
        let bytes = std::fs::read(&path).unwrap();
        let entry = memory::entry::Entry::parse(&bytes, None).expect("entries are whole");
        for blob in entry.blob_refs() {
            digests.insert(format!("{:032x}.blob", blob.digest));
        }
    }
    digests
}

#[test]
fn concurrent_writers_and_removals_never_lose_a_referenced_blob() {
    let dir = cache_dir();
    let spawn = |args: &[&str]| {
        let mut command = Command::new(WORKER);
        command.env("MEMO_CACHE_DIR", dir.path()).args(args);
        command
    };
    // The cache exists before the processes race on it.
    run_with(&mut spawn(&["write", "0", "1"]));
    let workers: Vec<_> = [
        vec!["write", "1", "12"],
        vec!["write", "2", "12"],
        vec!["write", "3", "12"],
        vec!["reduce", "30"],
    ]
    .into_iter()
    .map(|args| {
        let mut command = spawn(&args);
        std::thread::spawn(move || run_with(&mut command))
    })
    .collect();
    for worker in workers {
        let run = worker.join().unwrap();
        assert_eq!(run.count("ok"), 1, "{}", run.stderr);
    }
    // Every blob an entry refers to is there, whole…
    let present: HashSet<String> = blobs(dir.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    let referenced = referenced(dir.path());
    assert!(!referenced.is_empty());
    assert!(
        referenced.is_subset(&present),
        "entries refer to missing blobs: {:?}",
        referenced.difference(&present).collect::<Vec<_>>()
    );
    assert!(
        present.len() <= 3,
        "three contents, {} blobs",
        present.len()
    );
    // …and once the last entries go, so do the blobs.
    Memory::new(dir.path()).clear().unwrap();
    assert!(blobs(dir.path()).is_empty());
}
