//! A damaged entry is detected, reported once, recomputed and replaced —
//! never decoded into a wrong result, never a panic.

use std::path::{Path, PathBuf};

use memo_tests::{Random, cache_dir, entry_files, run};

const WORKER: &str = env!("CARGO_BIN_EXE_worker");

/// Stores `square(5)` and `square(6)`; returns the entry of `square(5)` and
/// the other one.
fn two_entries(cache: &Path) -> (PathBuf, PathBuf) {
    run(WORKER, cache, &["square", "5"]);
    let five = entry_files(cache).pop().expect("an entry for square(5)");
    run(WORKER, cache, &["square", "6"]);
    let six = entry_files(cache)
        .into_iter()
        .find(|p| *p != five)
        .expect("an entry for square(6)");
    (five, six)
}

/// Damages the entry with `damage`, then checks the next run recomputes with
/// one warning and the run after that hits silently.
fn assert_recovers(damage: impl FnOnce(&Path, &Path)) {
    let cache = cache_dir();
    let (five, six) = two_entries(cache.path());
    damage(&five, &six);

    let recovered = run(WORKER, cache.path(), &["square", "5"]);
    assert_eq!(recovered.count("computing square(5)"), 1, "{recovered:?}");
    assert_eq!(recovered.count("square(5) = 25"), 1, "{recovered:?}");
    assert_eq!(
        recovered.stderr.matches("corrupt cache entry").count(),
        1,
        "{recovered:?}"
    );

    let after = run(WORKER, cache.path(), &["square", "5"]);
    assert_eq!(
        after.count("computing square(5)"),
        0,
        "the entry was not replaced: {after:?}"
    );
    assert_eq!(after.count("square(5) = 25"), 1);
    assert!(after.stderr.is_empty(), "{after:?}");
}

#[test]
fn a_flipped_byte_is_detected() {
    assert_recovers(|five, _| {
        let mut bytes = std::fs::read(five).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        std::fs::write(five, bytes).unwrap();
    });
}

#[test]
fn a_truncated_entry_is_detected() {
    assert_recovers(|five, _| {
        let bytes = std::fs::read(five).unwrap();
        std::fs::write(five, &bytes[..bytes.len() / 2]).unwrap();
    });
}

#[test]
fn an_empty_file_is_detected() {
    assert_recovers(|five, _| std::fs::write(five, b"").unwrap());
}

#[test]
fn a_foreign_file_is_detected() {
    assert_recovers(|five, _| std::fs::write(five, b"\x80\x04\x95 a pickle, say").unwrap());
}

#[test]
fn another_calls_valid_entry_copied_over_is_detected() {
    // Checksums alone would accept it: the key in the header catches it.
    assert_recovers(|five, six| {
        std::fs::copy(six, five).unwrap();
    });
}

#[test]
fn a_thousand_injected_corruptions_are_all_detected_and_recomputed() {
    const ENTRIES: u64 = 1000;
    let cache = cache_dir();
    let keys: Vec<String> = (0..ENTRIES).map(|k| k.to_string()).collect();
    let mut args = vec!["square"];
    args.extend(keys.iter().map(String::as_str));
    run(WORKER, cache.path(), &args);
    let entries = entry_files(cache.path());
    assert_eq!(entries.len(), ENTRIES as usize);

    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    for (i, path) in entries.iter().enumerate() {
        let mut bytes = std::fs::read(path).unwrap();
        match i % 3 {
            // Truncate anywhere, down to nothing.
            0 => bytes.truncate((random.next_u64() % bytes.len() as u64) as usize),
            // Flip one to three bits anywhere.
            1 => {
                for _ in 0..=random.next_u64() % 3 {
                    let at = (random.next_u64() % bytes.len() as u64) as usize;
                    bytes[at] ^= 1 << (random.next_u64() % 8);
                }
            }
            // Replace with random data of a random length.
            _ => {
                let len = random.next_u64() % 512;
                bytes = (0..len).map(|_| random.next_u64() as u8).collect();
            }
        }
        std::fs::write(path, bytes).unwrap();
    }

    let recovered = run(WORKER, cache.path(), &args);
    let computed = recovered
        .stdout
        .lines()
        .filter(|l| l.starts_with("computing square("))
        .count();
    assert_eq!(
        computed, ENTRIES as usize,
        "every corrupted entry is recomputed"
    );
    assert_eq!(
        recovered.stderr.matches("corrupt cache entry").count(),
        ENTRIES as usize
    );
    for k in 0..ENTRIES {
        assert_eq!(
            recovered.count(&format!("square({k}) = {}", k * k)),
            1,
            "square({k})"
        );
    }
    let after = run(WORKER, cache.path(), &args);
    assert!(
        !after.stdout.contains("computing"),
        "the recomputed entries were stored"
    );
    assert!(after.stderr.is_empty());
}
