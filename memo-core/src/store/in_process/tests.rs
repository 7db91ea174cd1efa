use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::entry::{ArgRecord, EntryMeta};

/// A store in memory that counts its reads.
#[derive(Debug, Default)]
struct Counting {
    files: Mutex<HashMap<String, Vec<u8>>>,
    reads: AtomicUsize,
}

impl EntryStore for Counting {
    fn read(&self, path: &str) -> io::Result<Option<StoredEntry>> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(self
            .files
            .lock()
            .unwrap()
            .get(path)
            .map(|bytes| StoredEntry {
                bytes: bytes.clone(),
                len: bytes.len() as u64,
                file: None,
            }))
    }

    fn write(&self, path: &str, parts: &[&[u8]]) -> io::Result<()> {
        self.files
            .lock()
            .unwrap()
            .insert(path.to_owned(), parts.concat());
        Ok(())
    }

    fn clear(&self) -> io::Result<()> {
        self.files.lock().unwrap().clear();
        Ok(())
    }

    fn lock(&self, _key: Digest) -> io::Result<KeyGuard> {
        Ok(KeyGuard(Box::new(())))
    }

    fn remove(&self, path: &str) -> io::Result<()> {
        self.files.lock().unwrap().remove(path);
        Ok(())
    }

    fn remove_function(&self, dir: &str) -> io::Result<()> {
        let prefix = format!("{dir}/");
        self.files
            .lock()
            .unwrap()
            .retain(|path, _| !path.starts_with(&prefix));
        Ok(())
    }

    fn root(&self) -> &Path {
        Path::new("/nowhere")
    }
}

/// An entry file of `key` holding `output`.
fn entry_file(key: u128, output: &[u64]) -> Vec<u8> {
    let meta = EntryMeta {
        identity: "t::f".into(),
        fingerprint: "0".repeat(32),
        output_type: "alloc::vec::Vec<u64>".into(),
        call: "f()".into(),
        args: vec![ArgRecord {
            name: "x".into(),
            digest: "0".repeat(32),
        }],
        type_args: Vec::new(),
        created_ms: 0,
        duration_s: 0.0,
        deps: Vec::new(),
        origin: Default::default(),
    };
    crate::entry::encode(key, 0, &meta, output).unwrap()
}

fn path(key: u128) -> String {
    crate::layout::entry_path("t.f", "00000000000000aa", key)
}

/// A tier of `budget` bytes over a store holding entries `0..n`, of
/// `len` numbers each.
fn tier(budget: u64, n: u128, len: usize) -> (InProcess, &'static Counting) {
    let inner: &'static Counting = Box::leak(Box::default());
    for key in 0..n {
        inner
            .write(&path(key), &[&entry_file(key, &vec![7; len])])
            .unwrap();
    }
    /// Forwards to a leaked store, so the test can count its reads.
    #[derive(Debug)]
    struct Shared(&'static Counting);
    impl EntryStore for Shared {
        fn read(&self, path: &str) -> io::Result<Option<StoredEntry>> {
            self.0.read(path)
        }
        fn write(&self, path: &str, parts: &[&[u8]]) -> io::Result<()> {
            self.0.write(path, parts)
        }
        fn clear(&self) -> io::Result<()> {
            self.0.clear()
        }
        fn lock(&self, key: Digest) -> io::Result<KeyGuard> {
            self.0.lock(key)
        }
        fn remove(&self, path: &str) -> io::Result<()> {
            self.0.remove(path)
        }
        fn remove_function(&self, dir: &str) -> io::Result<()> {
            self.0.remove_function(dir)
        }
        fn root(&self) -> &Path {
            self.0.root()
        }
    }
    (InProcess::new(Box::new(Shared(inner)), budget), inner)
}

fn reads(inner: &Counting) -> usize {
    inner.reads.load(Ordering::Relaxed)
}

#[test]
fn a_second_read_is_served_from_memory_with_the_same_bytes() {
    let (tier, inner) = tier(1 << 20, 3, 4);
    let first = tier.read(&path(1)).unwrap().unwrap();
    let second = tier.read(&path(1)).unwrap().unwrap();
    assert_eq!(reads(inner), 1, "the second read came from memory");
    assert_eq!(first.bytes, second.bytes);
    assert_eq!(second.len, second.bytes.len() as u64);
    assert!(tier.read(&path(9)).unwrap().is_none());
    assert_eq!(reads(inner), 2, "a missing entry is asked of the store");
}

#[test]
fn the_budget_is_never_exceeded_and_recent_entries_stay() {
    let one = Slot {
        path: path(0).into(),
        bytes: entry_file(0, &[7; 100]).into(),
    }
    .cost();
    // Room for about ten entries.
    let budget = one * 10;
    let (tier, inner) = tier(budget, 100, 100);
    for round in 0..3 {
        for key in 0..100 {
            tier.read(&path(key)).unwrap().unwrap();
            let state = tier.state();
            assert!(
                state.young.bytes + state.old.bytes <= budget,
                "round {round}, key {key}: {} + {} over {budget}",
                state.young.bytes,
                state.old.bytes
            );
            assert!(state.young.bytes <= budget / 2);
        }
    }
    assert_eq!(
        reads(inner),
        300,
        "a cycle larger than the budget always misses"
    );
    // The last few read are kept; reading them again costs nothing.
    let before = reads(inner);
    for key in 97..100 {
        tier.read(&path(key)).unwrap().unwrap();
    }
    assert_eq!(reads(inner), before);
    // One hot entry read between others survives them all.
    for key in 0..100 {
        tier.read(&path(50)).unwrap();
        tier.read(&path(key)).unwrap();
    }
    let before = reads(inner);
    tier.read(&path(50)).unwrap();
    assert_eq!(reads(inner), before, "a hot entry stays");
}

#[test]
fn bytes_counted_match_what_is_kept() {
    let (tier, _) = tier(1 << 16, 40, 50);
    for key in (0..40).chain(0..40).chain([3, 3, 5]) {
        tier.read(&path(key)).unwrap();
    }
    tier.forget(&path(5));
    let state = tier.state();
    for generation in [&state.young, &state.old] {
        let sum: u64 = generation.slots.values().map(Slot::cost).sum();
        assert_eq!(generation.bytes, sum);
    }
}

#[test]
fn an_entry_over_half_the_budget_is_not_kept() {
    let (tier, inner) = tier(1000, 1, 1000);
    tier.read(&path(0)).unwrap().unwrap();
    tier.read(&path(0)).unwrap().unwrap();
    assert_eq!(reads(inner), 2);
}

#[test]
fn writes_rejections_and_removals_drop_the_copy() {
    let (tier, inner) = tier(1 << 20, 4, 4);
    for key in 0..4 {
        tier.read(&path(key)).unwrap();
    }
    assert_eq!(reads(inner), 4);
    tier.write(&path(0), &[&entry_file(0, &[8])]).unwrap();
    let rewritten = tier.read(&path(0)).unwrap().unwrap();
    assert_eq!(
        rewritten.bytes,
        entry_file(0, &[8]),
        "the new entry, not the copy"
    );
    tier.rejected(&path(1));
    tier.read(&path(1)).unwrap();
    tier.remove(&path(2)).unwrap();
    assert!(tier.read(&path(2)).unwrap().is_none());
    assert_eq!(reads(inner), 7);
    tier.remove_function("t.f").unwrap();
    assert!(tier.read(&path(3)).unwrap().is_none());
    tier.read(&path(0)).unwrap();
    tier.forget_all();
    tier.read(&path(0)).unwrap();
    assert_eq!(reads(inner), 10);
}

#[test]
fn a_damaged_or_partial_entry_is_not_kept() {
    let (tier, inner) = tier(1 << 20, 2, 4);
    let mut bad = entry_file(0, &[1]);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    inner.write(&path(0), &[&bad]).unwrap();
    tier.read(&path(0)).unwrap();
    tier.read(&path(0)).unwrap();
    assert_eq!(reads(inner), 2, "a damaged entry is read again each time");
}

#[test]
fn paths_with_the_same_hash_slot_are_told_apart() {
    let (tier, _) = tier(1 << 20, 2, 4);
    let kept = tier.read(&path(0)).unwrap().unwrap();
    // Plant the copy of entry 0 under the hash of entry 1's path: the path
    // check must refuse it.
    let hash = xxh3_64(path(1).as_bytes());
    let slot = Slot {
        path: path(0).into(),
        bytes: kept.bytes.as_slice().into(),
    };
    tier.state().young.insert(hash, slot);
    let read = tier.read(&path(1)).unwrap().unwrap();
    assert_eq!(read.bytes, entry_file(1, &[7; 4]));
}
