//! Statistics per function across real processes: entries, bytes, hits,
//! misses, and the compute time hits saved; usage records survive a normal
//! exit without any explicit flush.

use std::time::Duration;

use memo_tests::{cache_dir, run};
use memory::Memory;
use memory::manage::{Cache, NoProgress};

const WORKER: &str = env!("CARGO_BIN_EXE_manage_worker");

#[test]
fn hits_misses_and_time_saved_add_up_across_processes() {
    let cache = cache_dir();
    run(WORKER, cache.path(), &["slow", "1", "2"]); // 2 misses
    run(WORKER, cache.path(), &["slow", "1", "2", "3"]); // 2 hits, 1 miss
    run(WORKER, cache.path(), &["slow", "1", "1"]); // 2 hits
    run(WORKER, cache.path(), &["square", "5"]); // another function

    let stats = Memory::new(cache.path()).stats().unwrap();
    assert_eq!(stats.len(), 2, "{stats:#?}");
    let slow = stats
        .iter()
        .find(|f| f.identity == "manage_worker::slow")
        .unwrap();
    assert_eq!(slow.entries, 3);
    assert_eq!((slow.hits, slow.misses), (4, 3), "{slow:#?}");
    assert_eq!(slow.hit_rate(), Some(4.0 / 7.0));
    // Each hit saved one 20 ms computation.
    assert!(slow.time_saved >= Duration::from_millis(80), "{slow:#?}");
    assert!(slow.time_saved < Duration::from_secs(2), "{slow:#?}");
    assert!(slow.bytes > 0 && slow.last_used.is_some());
    assert_eq!(slow.versions.len(), 1);
    assert!(slow.versions[0].current);

    let square = stats
        .iter()
        .find(|f| f.identity == "manage_worker::square")
        .unwrap();
    assert_eq!((square.entries, square.hits, square.misses), (1, 0, 1));
}

#[test]
fn counts_survive_eviction_in_the_functions_totals() {
    let cache = cache_dir();
    run(WORKER, cache.path(), &["slow", "1", "2"]);
    run(WORKER, cache.path(), &["slow", "1", "2", "1"]);
    let memory = Memory::new(cache.path());
    let report = memory
        .reduce_size(memory::manage::Limits::new().items(0))
        .unwrap();
    assert_eq!(report.removed.entries, 2);
    let stats = memory.stats().unwrap();
    let slow = &stats[0];
    assert_eq!(slow.entries, 0);
    assert_eq!((slow.hits, slow.misses), (3, 2), "{slow:#?}");
    assert!(slow.time_saved >= Duration::from_millis(60), "{slow:#?}");
}

#[test]
fn usage_logs_of_finished_processes_are_folded_into_one_summary() {
    let cache = cache_dir();
    for _ in 0..3 {
        run(WORKER, cache.path(), &["square", "1"]);
    }
    let logs = || {
        std::fs::read_dir(cache.path().join(".usage"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
            .count()
    };
    assert_eq!(logs(), 3);
    let handle = Cache::open(cache.path()).unwrap();
    let before = handle.usage().unwrap();
    // Any reduction compacts the records; counts do not change.
    Memory::new(cache.path())
        .reduce_size(memory::manage::Limits::new())
        .unwrap();
    assert_eq!(logs(), 0);
    assert!(cache.path().join(".usage/summary").exists());
    let after = handle.usage().unwrap();
    let scan = handle.scan(&NoProgress).unwrap();
    assert_eq!(
        handle.functions(&scan, &before),
        handle.functions(&scan, &after)
    );
    let square = &handle.functions(&scan, &after)[0];
    assert_eq!((square.hits, square.misses), (2, 1));
}

#[test]
fn a_reduction_with_nothing_to_fold_or_remove_leaves_the_summary_alone() {
    use std::os::unix::fs::MetadataExt;
    let cache = cache_dir();
    run(WORKER, cache.path(), &["square", "1"]);
    let memory = Memory::new(cache.path());
    memory.reduce_size(memory::manage::Limits::new()).unwrap();
    let summary = cache.path().join(".usage/summary");
    let inode = || std::fs::metadata(&summary).unwrap().ino();
    let folded = inode();
    memory
        .reduce_size(memory::manage::Limits::new().items(10))
        .unwrap();
    assert_eq!(inode(), folded, "nothing changed: not rewritten");
    // A finished log to fold: rewritten.
    run(WORKER, cache.path(), &["square", "1"]);
    memory
        .reduce_size(memory::manage::Limits::new().items(10))
        .unwrap();
    assert_ne!(inode(), folded);
    let scan = Cache::open(cache.path())
        .unwrap()
        .scan(&NoProgress)
        .unwrap();
    let usage = Cache::open(cache.path()).unwrap().usage().unwrap();
    let square = &Cache::open(cache.path()).unwrap().functions(&scan, &usage)[0];
    assert_eq!((square.hits, square.misses), (1, 1));
}
