//! `compress = level`: outputs stored as zstd frames, checked and bounded on
//! the way back; compression and memory maps exclude each other, and memo
//! says so once.

use std::process::Command;

use memo_tests::{cache_dir, entry_files, run_with};
use memory::entry::Entry;

const ARRAYS: &str = env!("CARGO_BIN_EXE_arrays");

fn arrays(cache: &std::path::Path, env: &[(&str, &str)], n: usize) -> memo_tests::Run {
    let mut command = Command::new(ARRAYS);
    command
        .env("MEMO_CACHE_DIR", cache)
        .envs(env.iter().copied())
        .args(["ramp", &n.to_string()]);
    run_with(&mut command)
}

#[test]
fn compressed_outputs_round_trip_and_take_less_room() {
    let plain = cache_dir();
    let compressed = cache_dir();
    arrays(plain.path(), &[], 1 << 20);
    let first = arrays(compressed.path(), &[("ARRAYS_COMPRESS", "3")], 1 << 20);
    assert_eq!(first.count("ramp ok"), 1);
    let hit = arrays(compressed.path(), &[("ARRAYS_COMPRESS", "3")], 1 << 20);
    assert_eq!(hit.count("computing ramp(1048576)"), 0, "{hit:?}");
    assert_eq!(hit.count("ramp ok"), 1);

    let [plain_entry] = entry_files(plain.path()).try_into().unwrap();
    let [compressed_entry] = entry_files(compressed.path()).try_into().unwrap();
    // The plain output's array is in the blob area, beside its entry.
    let blobs: u64 = std::fs::read_dir(plain.path().join(".blobs"))
        .unwrap()
        .map(|blob| blob.unwrap().metadata().unwrap().len())
        .sum();
    let plain_len = std::fs::metadata(plain_entry).unwrap().len() + blobs;
    let bytes = std::fs::read(compressed_entry).unwrap();
    assert!(
        (bytes.len() as u64) * 4 < plain_len,
        "{} vs {plain_len} bytes",
        bytes.len()
    );
    let entry = Entry::parse(&bytes, None).unwrap();
    assert!(entry.is_compressed());
    let values: memory::Array<f64> = entry.output().unwrap();
    assert_eq!(values[12345], 12345.0);
}

#[test]
fn compression_with_mmap_mode_warns_once_and_loads_into_memory() {
    let cache = cache_dir();
    let env = [("ARRAYS_COMPRESS", "1"), ("ARRAYS_MMAP", "r")];
    let miss = arrays(cache.path(), &env, 100_000);
    let hit = arrays(cache.path(), &env, 100_000);
    for run in [&miss, &hit] {
        assert_eq!(run.count("ramp ok"), 1);
        assert_eq!(run.count("mapped false"), 1, "{run:?}");
        assert_eq!(run.stderr.matches("warning").count(), 1, "{run:?}");
        assert!(run.stderr.contains("compressed"), "{run:?}");
    }
}

#[test]
fn a_damaged_compressed_entry_is_recomputed() {
    let cache = cache_dir();
    arrays(cache.path(), &[("ARRAYS_COMPRESS", "3")], 50_000);
    let [entry] = entry_files(cache.path()).try_into().unwrap();
    let mut bytes = std::fs::read(&entry).unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 0x40;
    std::fs::write(&entry, bytes).unwrap();
    let recovered = arrays(cache.path(), &[("ARRAYS_COMPRESS", "3")], 50_000);
    assert_eq!(recovered.count("computing ramp(50000)"), 1);
    assert_eq!(recovered.count("ramp ok"), 1);
}
