//! One cache for a cluster: an S3 store behind local tiers, against a real
//! S3 server.
//!
//! `bash scripts/test.sh` starts one (moto, on 127.0.0.1) and exports
//! `AWS_ENDPOINT_URL` and `MEMO_TEST_S3_BUCKET`; without them these tests
//! fail, saying so — they never skip. Every test works below a prefix of
//! its own, and the sharing tests run real, separate processes, each with
//! a local tier of its own (machines of a cluster, in miniature).

use std::process::Command;
use std::sync::LazyLock;

use memo_tests::{Bucket, Run, entry_files, run_with};
use memory::entry::Entry;
use memory::manage::Limits;
use memory::store::{Put, S3Store, Store};
use memory::{Memory, MmapMode};

const WORKER: &str = env!("CARGO_BIN_EXE_s3_worker");

fn computed(run: &Run) -> usize {
    run.stdout
        .lines()
        .filter(|l| l.starts_with("computing"))
        .count()
}

#[test]
fn two_machines_with_separate_local_tiers_share_results() {
    let shared = Bucket::new("share", WORKER);
    let first = shared.run("a", &["square", "1", "2"]);
    assert_eq!(computed(&first), 2, "{first:?}");
    assert_eq!(shared.entries().len(), 2, "both results are in S3");

    let second = shared.run("b", &["square", "1", "2", "3"]);
    assert_eq!(second.count("computing square(3)"), 1, "{second:?}");
    assert_eq!(computed(&second), 1, "1 and 2 come from S3: {second:?}");
    assert_eq!(second.count("square(2) = 4"), 1);
    assert_eq!(second.count("square(3) = 9"), 1);
    // What b fetched is in its local tier now: the next hit is local.
    assert_eq!(entry_files(&shared.tier("b")).len(), 3);
    // And a sees what b computed.
    let again = shared.run("a", &["square", "3"]);
    assert_eq!(computed(&again), 0, "{again:?}");
    // The prefix is marked as a memo cache.
    let marker = shared.store.get("CACHEDIR.TAG").unwrap().expect("a marker");
    assert!(String::from_utf8_lossy(&marker).contains("memo cache"));
}

#[test]
fn an_empty_local_tier_gets_its_hits_from_s3() {
    let shared = Bucket::new("empty-tier", WORKER);
    shared.run("a", &["square", "7"]);
    std::fs::remove_dir_all(shared.tier("a")).unwrap();
    let again = shared.run("a", &["square", "7"]);
    assert_eq!(computed(&again), 0, "{again:?}");
    assert_eq!(again.count("square(7) = 49"), 1);
    assert_eq!(
        entry_files(&shared.tier("a")).len(),
        1,
        "fetched into the tier"
    );
}

#[test]
fn a_corrupt_object_in_s3_is_recomputed_and_replaced() {
    let shared = Bucket::new("corrupt", WORKER);
    shared.run("a", &["square", "5"]);
    let [path] = shared.entries().try_into().expect("one entry");
    let good = shared.store.get(&path).unwrap().unwrap();
    let mut bad = good.clone();
    let middle = bad.len() / 2;
    bad[middle] ^= 0x40;
    shared.store.put(&path, &[&bad]).unwrap();

    let second = shared.run("b", &["square", "5"]);
    assert_eq!(second.count("computing square(5)"), 1, "{second:?}");
    assert_eq!(second.count("square(5) = 25"), 1);
    assert!(second.stderr.contains("corrupt cache entry"), "{second:?}");
    let replaced = shared.store.get(&path).unwrap().unwrap();
    Entry::parse(&replaced, None).expect("a valid entry replaced the corrupt one");
    // A third machine hits the repaired entry.
    let third = shared.run("c", &["square", "5"]);
    assert_eq!(computed(&third), 0, "{third:?}");
}

#[test]
fn eviction_on_s3_removes_the_least_recently_used() {
    let shared = Bucket::new("evict", WORKER);
    let first = shared.run("a", &["square", "1", "2", "3", "4", "5", "6"]);
    assert_eq!(computed(&first), 6);
    std::thread::sleep(std::time::Duration::from_millis(20));
    // Another machine uses 4, 5 and 6 later: 1, 2, 3 are the least recent.
    let second = shared.run("b", &["square", "4", "5", "6"]);
    assert_eq!(computed(&second), 0, "{second:?}");

    let stats = shared.run("c", &["stats"]);
    assert_eq!(
        stats.count("stats s3_worker::square hits=3 misses=6 entries=6"),
        1,
        "usage recorded in S3 by both machines: {stats:?}"
    );

    let memory = Memory::new(&shared.url).local_tier(shared.tier("manager"));
    let report = memory.reduce_size(Limits::new().items(3)).unwrap();
    assert_eq!(report.before.entries, 6);
    assert_eq!(report.evicted.entries, 3, "{report:?}");
    assert_eq!(shared.entries().len(), 3);

    // Hits are counted on: the removed entries' counts stay in the totals.
    let stats = shared.run("c", &["stats"]);
    assert_eq!(
        stats.count("stats s3_worker::square hits=3 misses=6 entries=3"),
        1,
        "{stats:?}"
    );
    // 4, 5 and 6 survived; 1, 2 and 3 are computed again.
    let after = shared.run("d", &["square", "1", "2", "3", "4", "5", "6"]);
    assert_eq!(computed(&after), 3, "{after:?}");
    for x in 1..=3 {
        assert_eq!(
            after.count(&format!("computing square({x})")),
            1,
            "{after:?}"
        );
    }
}

#[test]
fn large_outputs_go_up_in_parts_and_come_back_mapped() {
    let shared = Bucket::new("large", WORKER);
    // 20 MiB of f64s: two parts of 16 MiB and 4 MiB.
    let n = (20 << 20) / 8;
    let first = shared.run("a", &["ramp", &n.to_string()]);
    assert_eq!(first.count("ramp ok"), 1, "{first:?}");
    assert_eq!(first.count("mapped true"), 1, "{first:?}");
    // The array went up as a blob of its own (`tests/s3_blobs.rs`); the
    // entry refers to it.
    let [path] = shared.entries().try_into().expect("one entry");
    let objects = shared.store.list("").unwrap();
    let entry = objects.iter().find(|o| o.path == path).unwrap().size;
    assert!(entry < 1 << 20, "{entry}");
    let blob = objects
        .iter()
        .find(|o| o.path.ends_with(".blob"))
        .expect("a blob");
    assert_eq!(blob.size, 20 << 20);

    let second = shared.run("b", &["ramp", &n.to_string()]);
    assert_eq!(computed(&second), 0, "{second:?}");
    assert_eq!(second.count("ramp ok"), 1, "{second:?}");
    assert_eq!(second.count("mapped true"), 1, "mapped from b's local tier");
}

#[test]
fn the_store_contract_holds_on_s3() {
    let shared = Bucket::new("contract", WORKER);
    let store = &shared.store;
    assert_eq!(store.get("a/b.memo").unwrap(), None);
    assert_eq!(
        store
            .put_if_absent("a/b.memo", &[b"first", b" try"])
            .unwrap(),
        Put::Created
    );
    assert_eq!(
        store.put_if_absent("a/b.memo", &[b"second"]).unwrap(),
        Put::Exists,
        "create-once: the first write stays"
    );
    assert_eq!(store.get("a/b.memo").unwrap().unwrap(), b"first try");
    store.put("a/b.memo", &[b"replaced"]).unwrap();
    let mut streamed = Vec::new();
    assert!(store.get_to("a/b.memo", &mut streamed).unwrap());
    assert_eq!(streamed, b"replaced");
    store.put("a/c/d.memo", &[b"x"]).unwrap();
    store.put("e.memo", &[b"yy"]).unwrap();
    let mut listed: Vec<(String, u64)> = store
        .list("a")
        .unwrap()
        .into_iter()
        .map(|o| (o.path, o.size))
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [("a/b.memo".to_owned(), 8), ("a/c/d.memo".to_owned(), 1)]
    );
    assert_eq!(store.list("").unwrap().len(), 3);
    let failed = store.delete_many(&["a/b.memo".into(), "a/missing.memo".into()]);
    assert!(failed.is_empty(), "{failed:?}");
    store.delete("e.memo").unwrap();
    store.delete("e.memo").unwrap();
    assert_eq!(store.list("").unwrap().len(), 1);
    assert!(store.get("../escape").is_err(), "paths are checked");
}

#[test]
fn racing_machines_store_one_result() {
    let shared = Bucket::new("race", WORKER);
    // Four "machines" compute the same call at once.
    let workers: Vec<_> = ["a", "b", "c", "d"]
        .iter()
        .map(|machine| {
            Command::new(WORKER)
                .env("MEMO_CACHE_DIR", &shared.url)
                .env("MEMO_LOCAL_TIER", shared.tier(machine))
                .args(["square", "12"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = workers
        .into_iter()
        .map(|worker| worker.wait_with_output().unwrap())
        .collect();
    for output in &outputs {
        assert!(output.status.success(), "{output:?}");
        assert!(String::from_utf8_lossy(&output.stdout).contains("square(12) = 144"));
    }
    assert_eq!(shared.entries().len(), 1);
    let later = shared.run("e", &["square", "12"]);
    assert_eq!(computed(&later), 0, "{later:?}");
}

#[test]
fn the_memo_cli_manages_an_s3_cache() {
    let shared = Bucket::new("cli", WORKER);
    shared.run("a", &["square", "1", "2", "3"]);
    shared.run("b", &["square", "3"]);
    let memo = memo_tests::memo_cli();
    let ls = run_with(Command::new(&memo).args(["--location", &shared.url, "--json", "ls"]));
    let listing: serde_json::Value = serde_json::from_str(&ls.stdout).expect("JSON");
    let text = listing.to_string();
    assert!(text.contains("s3_worker::square"), "{text}");
    assert!(text.contains("\"entries\":3"), "{text}");
    let stats = run_with(Command::new(&memo).args(["--location", &shared.url, "stats"]));
    assert!(stats.stdout.contains("s3_worker::square"), "{stats:?}");
    run_with(Command::new(&memo).args([
        "--location",
        &shared.url,
        "--no-progress",
        "gc",
        "--items-limit",
        "1",
    ]));
    assert_eq!(
        shared.entries().len(),
        1,
        "square(3), the most recently used"
    );
    let verify = run_with(Command::new(&memo).args(["--location", &shared.url, "verify"]));
    assert!(verify.stdout.contains('1'), "{verify:?}");
    run_with(Command::new(&memo).args(["--location", &shared.url, "clear", "--yes"]));
    assert!(shared.entries().is_empty());
    // A prefix that holds no cache is refused, as a directory would be.
    let empty = Bucket::new("cli-empty", WORKER);
    let output = Command::new(&memo)
        .args(["--location", &empty.url, "ls"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{output:?}");
}

static IN_PROCESS: LazyLock<(Memory, tempfile::TempDir)> = LazyLock::new(|| {
    let url = memo_tests::s3_test_url("in-process");
    let tier = tempfile::tempdir().unwrap();
    let memory = Memory::new(url)
        .local_tier(tier.path())
        .mmap_mode(MmapMode::ReadOnly);
    (memory, tier)
});

#[memory::cache(memory = IN_PROCESS.0)]
fn cube(x: u64) -> u64 {
    x * x * x
}

#[memory::cache(memory = IN_PROCESS.0)]
async fn slow_cube(x: u64) -> u64 {
    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    x * x * x
}

#[test]
fn memory_new_takes_an_s3_url() {
    assert_eq!(cube(3), 27);
    let handle = memory::handle(|| cube(3));
    assert!(handle.check_call_in_cache(), "stored");
    assert_eq!(cube(3), 27);
    // The handle's clear reaches S3 too.
    memory::handle(|| cube(3)).clear().unwrap();
    assert!(!memory::handle(|| cube(3)).check_call_in_cache());
}

#[tokio::test(flavor = "current_thread")]
async fn async_functions_work_inside_a_runtime() {
    // memo's own runtime must not be blocked on from this one's thread.
    assert_eq!(slow_cube(4).await, 64);
    assert_eq!(slow_cube(4).await, 64);
    assert_eq!(cube(5), 125, "a sync cached call inside a runtime, too");
}

static UNREACHABLE: LazyLock<(Memory, tempfile::TempDir)> = LazyLock::new(|| {
    // Nothing listens on port 1: every request is refused.
    let store = S3Store::builder()
        .bucket("nowhere")
        .endpoint("http://127.0.0.1:1")
        .credentials("x", "y")
        .build()
        .unwrap();
    let tier = tempfile::tempdir().unwrap();
    (Memory::with_store(store).local_tier(tier.path()), tier)
});

#[memory::cache(memory = UNREACHABLE.0)]
fn offline_square(x: u64) -> u64 {
    x * x
}

#[test]
fn an_unreachable_store_never_fails_a_call() {
    let started = std::time::Instant::now();
    assert_eq!(offline_square(9), 81);
    assert_eq!(offline_square(9), 81, "served by the local tier");
    assert_eq!(offline_square(10), 100);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the store is left alone after it failed: {:?}",
        started.elapsed()
    );
    assert_eq!(entry_files(UNREACHABLE.1.path()).len(), 2);
}
