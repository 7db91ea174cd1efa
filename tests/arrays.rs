//! `memory::Array<T>`: stored out of line and aligned, handed back as
//! memory maps (read-only or copy-on-write) or as checked copies, bit for
//! bit what was computed, and never able to write into the cache.

use std::path::Path;
use std::process::Command;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use memo_tests::{cache_dir, entry_files, process_cache_dir};
use memory::{Array, Memory, MmapMode};
use serde::{Deserialize, Serialize};

static READ_ONLY_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static READ_ONLY: LazyLock<Memory> =
    LazyLock::new(|| Memory::new(READ_ONLY_DIR.as_path()).mmap_mode(MmapMode::ReadOnly));
static COPY_ON_WRITE_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static COPY_ON_WRITE: LazyLock<Memory> =
    LazyLock::new(|| Memory::new(COPY_ON_WRITE_DIR.as_path()).mmap_mode(MmapMode::CopyOnWrite));
static LOADED_DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static LOADED: LazyLock<Memory> = LazyLock::new(|| Memory::new(LOADED_DIR.as_path()));

/// Awkward floats: signed zeros, NaNs with payloads, infinities, subnormals.
fn awkward(n: usize, salt: u64) -> Vec<f64> {
    let specials = [
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE / 2.0,
    ];
    (0..n)
        .map(|i| match i % 7 {
            0 => f64::from_bits(0x7FF8_0000_0000_0000 | (i as u64 ^ salt)),
            1..=5 => specials[i % 7 - 1],
            _ => i as f64 * 1.5 + salt as f64,
        })
        .collect()
}

fn bits(values: &[f64]) -> Vec<u64> {
    values.iter().map(|v| v.to_bits()).collect()
}

macro_rules! cached_in {
    ($name:ident, $memory:ident) => {
        #[memory::cache(memory = $memory)]
        fn $name(n: usize, salt: u64) -> Array<f64> {
            awkward(n, salt).into()
        }
    };
}

cached_in!(read_only, READ_ONLY);
cached_in!(copy_on_write, COPY_ON_WRITE);
cached_in!(loaded, LOADED);

#[test]
fn every_mode_returns_the_computed_bits_on_the_miss_and_on_hits() {
    for n in [0, 1, 7, 4096, 300_000] {
        let expected = bits(&awkward(n, 3));
        for _ in 0..2 {
            let mapped = read_only(n, 3);
            assert_eq!(bits(&mapped), expected, "read-only, {n} elements");
            assert_eq!(
                mapped.mmap_mode(),
                (n > 0).then_some(MmapMode::ReadOnly),
                "the miss returns a map too"
            );
            let private = copy_on_write(n, 3);
            assert_eq!(bits(&private), expected, "copy-on-write, {n} elements");
            assert_eq!(
                private.mmap_mode(),
                (n > 0).then_some(MmapMode::CopyOnWrite)
            );
            let copy = loaded(n, 3);
            assert_eq!(bits(&copy), expected, "loaded, {n} elements");
            assert!(!copy.is_mapped());
        }
    }
}

#[test]
fn copy_on_write_changes_never_reach_the_file() {
    let mut first = copy_on_write(10_000, 11);
    first.make_mut()[5] = 42.0;
    assert_eq!(first[5], 42.0);
    assert!(first.is_mapped(), "written in place, in a private map");
    let again = copy_on_write(10_000, 11);
    assert_eq!(
        bits(&again),
        bits(&awkward(10_000, 11)),
        "the entry is unchanged"
    );
}

#[test]
fn read_only_maps_copy_before_writing() {
    let mut mapped = read_only(10_000, 12);
    assert!(mapped.is_mapped());
    mapped.make_mut()[0] = 7.0;
    assert!(
        !mapped.is_mapped(),
        "a read-only map is copied into memory first"
    );
    assert_eq!(bits(&read_only(10_000, 12)), bits(&awkward(10_000, 12)));
}

#[test]
fn a_mapped_array_survives_its_entry_being_deleted_or_replaced_by_other_processes() {
    let dir = cache_dir();
    let memory: &'static Memory = Box::leak(Box::new(
        Memory::new(dir.path()).mmap_mode(MmapMode::ReadOnly),
    ));
    static MEMORY: std::sync::OnceLock<&'static Memory> = std::sync::OnceLock::new();
    MEMORY.set(memory).unwrap();
    static HANDLE: LazyLock<&'static Memory> = LazyLock::new(|| MEMORY.get().unwrap());
    #[memory::cache(memory = HANDLE)]
    fn big(n: usize) -> Array<f64> {
        awkward(n, 5).into()
    }

    let mapped = big(1 << 20);
    let [entry] = entry_files(dir.path()).try_into().unwrap();
    // Replaced, the way memo replaces entries (rename over), by `mv`...
    let other = dir.path().join("other.memo");
    std::fs::write(&other, vec![0xAB; 16 << 20]).unwrap();
    assert!(
        Command::new("mv")
            .arg(&other)
            .arg(&entry)
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(
        bits(&mapped),
        bits(&awkward(1 << 20, 5)),
        "still the old bytes after a replace"
    );
    // ...then deleted by `rm`.
    assert!(
        Command::new("rm")
            .arg("-rf")
            .arg(dir.path())
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(
        bits(&mapped),
        bits(&awkward(1 << 20, 5)),
        "still valid after a delete"
    );
    drop(dir);
}

#[test]
fn a_mapped_array_outlives_its_memory_and_moves_between_threads() {
    // An array owns its map (no borrow of the `Memory`, the store or the
    // entry file): it is `'static + Send + Sync`, checked at compile time.
    fn owned<T: 'static + Send + Sync>(value: T) -> T {
        value
    }
    let mapped = owned(read_only(50_000, 9));
    assert!(mapped.is_mapped());
    let sum = std::thread::spawn(move || mapped.iter().filter(|v| v.is_finite()).sum::<f64>())
        .join()
        .unwrap();
    let expected: f64 = awkward(50_000, 9).iter().filter(|v| v.is_finite()).sum();
    assert_eq!(sum.to_bits(), expected.to_bits());
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Fit {
    name: String,
    weights: Array<f32>,
    layers: Vec<(u8, Array<i16>)>,
    bias: Option<Array<u64>>,
}

static NESTED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = READ_ONLY)]
fn fit(layers: u8) -> Fit {
    NESTED_RUNS.fetch_add(1, Ordering::SeqCst);
    Fit {
        name: "fit".into(),
        weights: (0..1000).map(|i| i as f32 / 3.0).collect(),
        layers: (0..layers)
            .map(|l| (l, (0..i16::from(l) * 100).collect()))
            .collect(),
        bias: Some(vec![u64::MAX, 0, 1].into()),
    }
}

#[test]
fn arrays_nested_in_structs_tuples_and_vecs_round_trip() {
    let first = fit(4);
    let second = fit(4);
    assert_eq!(NESTED_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(first, second);
    assert!(second.weights.is_mapped());
    assert!(
        second.layers.iter().skip(1).all(|(_, a)| a.is_mapped()),
        "every non-empty array is mapped"
    );
    assert_eq!(second.layers[3].1.len(), 300);
    assert_eq!(second.bias.as_ref().unwrap()[0], u64::MAX);
}

macro_rules! alignment_case {
    ($name:ident, $type:ty, $identity:literal) => {
        #[test]
        fn $name() {
            // Ten nested functions of one name: each gets its own identity.
            #[memory::cache(memory = READ_ONLY, name = $identity)]
            fn odd_sized(n: usize) -> (u8, Array<$type>, u8, Array<$type>) {
                (
                    1,
                    (0..n).map(|i| i as $type).collect(),
                    2,
                    (0..n + 3).map(|i| i as $type).collect(),
                )
            }
            for n in [1, 3, 17, 1001] {
                for (_, a, _, b) in [odd_sized(n), odd_sized(n)] {
                    for array in [&a, &b] {
                        assert_eq!(array.as_ptr() as usize % align_of::<$type>(), 0);
                        assert_eq!(array.as_ptr() as usize % 64, 0, "blobs are 64-byte aligned");
                    }
                    assert_eq!(a.to_vec(), (0..n).map(|i| i as $type).collect::<Vec<_>>());
                    assert_eq!(b.len(), n + 3);
                }
            }
        }
    };
}

alignment_case!(alignment_u8, u8, "arrays::odd_sized_u8");
alignment_case!(alignment_i8, i8, "arrays::odd_sized_i8");
alignment_case!(alignment_u16, u16, "arrays::odd_sized_u16");
alignment_case!(alignment_i16, i16, "arrays::odd_sized_i16");
alignment_case!(alignment_u32, u32, "arrays::odd_sized_u32");
alignment_case!(alignment_i32, i32, "arrays::odd_sized_i32");
alignment_case!(alignment_u64, u64, "arrays::odd_sized_u64");
alignment_case!(alignment_i64, i64, "arrays::odd_sized_i64");
alignment_case!(alignment_f32, f32, "arrays::odd_sized_f32");
alignment_case!(alignment_f64, f64, "arrays::odd_sized_f64");

#[test]
fn a_corrupt_array_is_caught_by_its_checksum_on_a_full_load() {
    let dir = cache_dir();
    let worker = env!("CARGO_BIN_EXE_arrays");
    let run = |args: &[&str]| memo_tests::run(worker, dir.path(), args);
    run(&["ramp", "100000"]);
    let [entry] = entry_files(dir.path()).try_into().unwrap();
    flip_byte_near_end(&entry);
    let recovered = run(&["ramp", "100000"]);
    assert_eq!(
        recovered.count("computing ramp(100000)"),
        1,
        "{recovered:?}"
    );
    assert_eq!(recovered.count("ramp ok"), 1, "{recovered:?}");
    let again = run(&["ramp", "100000"]);
    assert_eq!(
        again.count("computing ramp(100000)"),
        0,
        "the entry was replaced: {again:?}"
    );
}

/// Flips a byte inside the last array of an entry (rewriting the file by
/// rename, as memo itself would never do in place).
fn flip_byte_near_end(entry: &Path) {
    let mut bytes = std::fs::read(entry).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 0x10;
    let temp = entry.with_extension("tmp");
    std::fs::write(&temp, bytes).unwrap();
    std::fs::rename(temp, entry).unwrap();
}

#[memory::cache(memory = LOADED, mmap_mode = "c")]
fn own_mode(n: usize) -> Array<f64> {
    awkward(n, 21).into()
}

#[memory::cache(memory = READ_ONLY, compress = 3)]
fn own_compression(n: usize) -> Array<f64> {
    (0..n).map(|i| (i % 10) as f64).collect()
}

#[test]
fn a_functions_own_mmap_mode_and_compression_override_its_memorys() {
    // LOADED maps nothing, but this function asks for copy-on-write maps.
    for _ in 0..2 {
        let mut array = own_mode(1000);
        assert_eq!(array.mmap_mode(), Some(MmapMode::CopyOnWrite));
        array.make_mut()[0] = 1.0;
    }
    assert_eq!(bits(&own_mode(1000)), bits(&awkward(1000, 21)));
    // READ_ONLY maps arrays, but this function compresses its outputs, which
    // cannot be mapped: they come back in memory, and the entry is a frame.
    for _ in 0..2 {
        let array = own_compression(100_000);
        assert!(!array.is_mapped());
        assert_eq!(array[99_999], 9.0);
    }
    let compressed = entry_files(READ_ONLY_DIR.as_path())
        .into_iter()
        .filter(|path| path.to_string_lossy().contains("own_compression"))
        .map(|path| std::fs::read(path).unwrap())
        .collect::<Vec<_>>();
    assert_eq!(compressed.len(), 1);
    assert!(
        memory::entry::Entry::parse(&compressed[0], None)
            .unwrap()
            .is_compressed()
    );
    assert!(
        compressed[0].len() < 100_000,
        "{} bytes for 800 KB of repetitive floats",
        compressed[0].len()
    );
}

/// An output whose `Serialize` builds a temporary `Array`: the array is
/// dropped before the entry is written, so the entry must keep its bytes
/// alive itself (it once kept only a pointer to them).
#[derive(Debug, PartialEq)]
struct Resampled(Vec<f64>);

impl Serialize for Resampled {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let serialized = Array::from_vec(self.0.clone()).serialize(serializer);
        // The temporary is gone; its memory is reused at once, as a real
        // program's next allocation of that size would.
        let noise = vec![f64::from_bits(0xDEAD_BEEF); self.0.len()];
        std::hint::black_box(&noise);
        serialized
    }
}

impl<'de> Deserialize<'de> for Resampled {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Array::<f64>::deserialize(deserializer).map(|array| Resampled(array.to_vec()))
    }
}

#[memory::cache(memory = READ_ONLY)]
fn resampled(n: usize, salt: u64) -> Resampled {
    Resampled(awkward(n, salt))
}

#[test]
fn an_array_serialized_as_a_temporary_is_stored_whole() {
    for salt in 0..4 {
        let expected = awkward(512 * 1024, salt);
        let first = resampled(512 * 1024, salt);
        let second = resampled(512 * 1024, salt);
        let bits = |values: &[f64]| values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&first.0), bits(&expected), "the miss");
        assert_eq!(
            bits(&second.0),
            bits(&expected),
            "the hit, mapped from the entry"
        );
    }
}
