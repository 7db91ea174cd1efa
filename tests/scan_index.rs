//! A walk of a cache reuses what the last one found for the directories
//! that did not change (`.usage/scan`), and still sees everything anyone
//! else did: entries written by a process that records no usage, removed
//! or replaced by hand, written within the same second as the last walk, or
//! a damaged index. Entries are written by a real worker process.

use std::path::{Path, PathBuf};
use std::time::Duration;

use memo_tests::{cache_dir, entry_files, run};
use memory::entry::{ArgRecord, EntryMeta};
use memory::manage::{Cache, Limits, NoProgress, ReduceOptions};

const WORKER: &str = env!("CARGO_BIN_EXE_worker");

/// Writes an entry for `key` into `version` as another tool would: no usage
/// record, no lock.
fn write_by_hand(version: &Path, key: u128, payload_len: usize) -> PathBuf {
    let meta = EntryMeta {
        deps: Vec::new(),
        identity: "worker::square".to_owned(),
        fingerprint: format!("{:032x}", 1),
        output_type: "alloc::string::String".to_owned(),
        call: format!("square({key})"),
        args: vec![ArgRecord {
            name: "x".to_owned(),
            digest: format!("{key:032x}"),
        }],
        type_args: Vec::new(),
        created_ms: 1_700_000_000_000,
        duration_s: 0.5,
        origin: Default::default(),
    };
    let bytes = memory::entry::encode(
        key,
        memory::entry::type_hash(&meta.output_type),
        &meta,
        &"x".repeat(payload_len),
    )
    .unwrap();
    let path = version.join(format!("{key:032x}.memo"));
    let temp = version.join(format!(".tmp-{key:016x}.memo"));
    std::fs::write(&temp, bytes).unwrap();
    std::fs::rename(&temp, &path).unwrap();
    path
}

/// What a full walk by hand finds: entry files and their total length.
fn on_disk(root: &Path) -> (u64, u64) {
    let files = entry_files(root);
    let bytes = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    (files.len() as u64, bytes)
}

fn scanned(cache: &Cache) -> (u64, u64) {
    let scan = cache.scan(&NoProgress).unwrap();
    (scan.entry_count(), scan.total_bytes())
}

/// Past the tick of the kernel's coarse clock (≤ 10 ms) in which a
/// changed directory is not trusted by the next walk.
fn settle() {
    std::thread::sleep(Duration::from_millis(30));
}

fn reduce(cache: &Cache, items: u64) -> u64 {
    cache
        .reduce(
            &Limits::new().items(items),
            &ReduceOptions::default(),
            &NoProgress,
        )
        .unwrap()
        .removed
        .entries
}

#[test]
fn walks_reuse_what_did_not_change_and_see_every_change() {
    let dir = cache_dir();
    let root = dir.path();
    run(WORKER, root, &["square", "1", "2", "3", "4", "5"]);
    let version = entry_files(root)[0].parent().unwrap().to_path_buf();
    let cache = Cache::open(root).unwrap();
    settle();
    assert_eq!(reduce(&cache, 100), 0);
    let index = root.join(".usage/scan");
    let kept = std::fs::metadata(&index).expect("a reduction keeps the scan index");
    assert_eq!(scanned(&cache), on_disk(root));
    assert_eq!(reduce(&cache, 100), 0);
    let again = std::fs::metadata(&index).unwrap();
    assert_eq!(
        (
            kept.modified().unwrap(),
            std::os::unix::fs::MetadataExt::ino(&again)
        ),
        (
            again.modified().unwrap(),
            std::os::unix::fs::MetadataExt::ino(&kept)
        ),
        "nothing changed: the index is reused, not rewritten"
    );

    // Written without usage records, removed and replaced by hand, right
    // after the last walk: every change is seen.
    write_by_hand(&version, 0xaaaa, 10);
    write_by_hand(&version, 0xbbbb, 10);
    let replaced = write_by_hand(&version, 0xcccc, 10);
    std::fs::remove_file(&entry_files(root)[0]).unwrap();
    assert_eq!(scanned(&cache), on_disk(root));
    assert_eq!(on_disk(root).0, 7);
    assert_eq!(reduce(&cache, 100), 0);
    write_by_hand(&version, 0xcccc, 5000);
    assert_eq!(
        scanned(&cache),
        on_disk(root),
        "a replaced entry's new size"
    );
    assert!(std::fs::metadata(&replaced).unwrap().len() > 5000);
    settle();
    assert_eq!(reduce(&cache, 100), 0);
    assert_eq!(scanned(&cache), on_disk(root));

    // A damaged index is ignored: a full walk.
    std::fs::write(&index, b"not an index").unwrap();
    assert_eq!(scanned(&cache), on_disk(root));

    // Limits hold on what is really there.
    assert_eq!(reduce(&cache, 4), 3);
    assert_eq!(on_disk(root).0, 4);
    assert_eq!(scanned(&cache), on_disk(root));
    // A version directory removed by hand.
    settle();
    assert_eq!(reduce(&cache, 100), 0);
    std::fs::remove_dir_all(&version).unwrap();
    assert_eq!(scanned(&cache), (0, 0));
}

/// A reduction of an empty directory writes no index into it: the first
/// file memo puts in a directory is its marker, or the directory would no
/// longer look like memo's (and the next use would refuse it).
#[test]
fn a_reduction_of_an_empty_directory_leaves_it_usable() {
    let dir = cache_dir();
    let memory = memory::Memory::new(dir.path());
    for _ in 0..2 {
        memory
            .reduce_size(Limits::new().items(10))
            .expect("an empty directory is an empty cache");
    }
    assert!(
        !dir.path().join(".usage").exists() || dir.path().join("CACHEDIR.TAG").exists(),
        "usage records without the marker"
    );
}

fn index_identity(root: &Path) -> (std::time::SystemTime, u64) {
    let meta = std::fs::metadata(root.join(".usage/scan")).expect("a kept index");
    (
        meta.modified().unwrap(),
        std::os::unix::fs::MetadataExt::ino(&meta),
    )
}

/// A walk trusts what the file system says changed before it, not what
/// changed seconds before by the clock: the index is reused by the next
/// reduction a few milliseconds after the last write.
#[test]
fn a_directory_changed_moments_before_a_walk_is_reused_by_the_next() {
    let dir = cache_dir();
    let root = dir.path();
    run(WORKER, root, &["square", "1", "2", "3"]);
    // Far from the 2 s a walk once waited for.
    settle();
    let cache = Cache::open(root).unwrap();
    assert_eq!(reduce(&cache, 100), 0);
    let kept = index_identity(root);
    assert_eq!(reduce(&cache, 100), 0);
    assert_eq!(
        index_identity(root),
        kept,
        "nothing changed: the index is reused, not rewritten"
    );
    assert_eq!(scanned(&cache), on_disk(root));
}

/// Entries another process writes right after a reduction (in the same
/// clock tick as its walk, often) are counted by the next one, and
/// removed when a limit says so.
#[test]
fn entries_written_right_after_a_reduction_are_seen_by_the_next() {
    let dir = cache_dir();
    let root = dir.path();
    run(WORKER, root, &["square", "0"]);
    let cache = Cache::open(root).unwrap();
    for x in 1..=12u64 {
        assert_eq!(reduce(&cache, 100), 0);
        run(WORKER, root, &["square", &x.to_string()]);
        let before = cache
            .reduce(
                &Limits::new().items(100),
                &ReduceOptions::default(),
                &NoProgress,
            )
            .unwrap()
            .before;
        assert_eq!(
            (before.entries, before.bytes),
            on_disk(root),
            "after entry {x}"
        );
    }
    // The last one written is the most recently used: the others go.
    assert_eq!(reduce(&cache, 1), 12);
    assert_eq!(on_disk(root).0, 1);
    assert_eq!(scanned(&cache), on_disk(root));
}

/// A reduction with nothing to remove reads no usage records, but still
/// folds the logs of finished processes into the summary, so they do not
/// pile up, and keeps every count.
#[test]
fn a_reduction_with_nothing_to_remove_folds_finished_logs() {
    let dir = cache_dir();
    let root = dir.path();
    run(WORKER, root, &["square", "1", "2"]);
    run(WORKER, root, &["square", "1", "2"]);
    let logs = || {
        std::fs::read_dir(root.join(".usage"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
            .count()
    };
    assert_eq!(logs(), 2);
    let cache = Cache::open(root).unwrap();
    assert_eq!(reduce(&cache, 100), 0);
    assert_eq!(logs(), 0, "finished logs are folded");
    let usage = cache.usage().unwrap();
    let counts: Vec<(u64, u64)> = entry_files(root)
        .iter()
        .map(|file| {
            let stem = file.file_stem().unwrap().to_string_lossy();
            let entry = usage
                .entry(u128::from_str_radix(&stem, 16).unwrap())
                .unwrap();
            (entry.hits, entry.misses)
        })
        .collect();
    assert_eq!(counts, [(1, 1), (1, 1)]);
}
