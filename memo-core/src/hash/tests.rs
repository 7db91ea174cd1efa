//! Unit tests of the canonical stream: injectivity, order independence,
//! set detection, bulk path equals element path, errors.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, LinkedList, VecDeque};
use std::fmt;

use serde::Serialize;
use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use xxhash_rust::xxh3::xxh3_128;

use super::buffer::CAPACITY;
use super::{digest, tags};

fn d<T: Serialize + ?Sized>(value: &T) -> u128 {
    digest(value).expect("hashable")
}

/// Emits a sequence element by element, with or without a length hint.
struct OneByOne<'a, T>(&'a [T], bool);

impl<T: Serialize> Serialize for OneByOne<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(self.1.then_some(self.0.len()))?;
        for x in self.0 {
            seq.serialize_element(x)?;
        }
        seq.end()
    }
}

/// Serializes as bytes (like `serde_bytes`).
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// Serializes through `collect_str`.
struct Shown<T>(T);

impl<T: fmt::Display> Serialize for Shown<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

/// Fails to serialize.
struct Broken;

impl Serialize for Broken {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(S::Error::custom("broken on purpose"))
    }
}

#[test]
fn stream_is_the_documented_one() {
    // A lone scalar is a run of one: value, count, tag.
    let one = [1, 1, 0, 0, 0, 0, 0, 0, 0, tags::U8];
    assert_eq!(d(&1u8), xxh3_128(&one));
    let mut ab = b"ab".to_vec();
    ab.extend(2u64.to_le_bytes());
    ab.push(tags::STR);
    assert_eq!(d("ab"), xxh3_128(&ab));
    // Two u16 in a tuple share one run.
    let mut t = vec![tags::TUPLE, 7, 0, 9, 0];
    t.extend(2u64.to_le_bytes());
    t.extend([tags::U16, tags::END]);
    assert_eq!(d(&(7u16, 9u16)), xxh3_128(&t));
}

#[test]
fn strings_and_sequences_are_delimited() {
    assert_ne!(d(&("ab", "c")), d(&("a", "bc")));
    assert_ne!(d(&vec![vec![1], vec![]]), d(&vec![vec![], vec![1]]));
    assert_ne!(d(&(vec![1u8, 2], vec![3u8])), d(&(vec![1u8], vec![2u8, 3])));
    assert_ne!(d(""), d(&()));
    assert_ne!(d("a"), d(&Bytes(b"a")));
    assert_ne!(d(&vec![97u8]), d(&Bytes(b"a")));
    assert_ne!(d(&((1u8,), 2u8)), d(&(1u8, (2u8,))));
}

#[test]
fn options_units_and_results_differ() {
    let all = [
        d(&Some(())),
        d(&None::<()>),
        d(&()),
        d(&Some(None::<()>)),
        d(&Ok::<i32, i32>(1)),
        d(&Err::<i32, i32>(1)),
        d(&1i32),
    ];
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

#[test]
fn integers_are_tagged_by_width_and_sign() {
    let ones = [
        d(&1u8),
        d(&1u16),
        d(&1u32),
        d(&1u64),
        d(&1u128),
        d(&1i8),
        d(&1i16),
        d(&1i32),
        d(&1i64),
        d(&1i128),
    ];
    for (i, a) in ones.iter().enumerate() {
        for b in &ones[i + 1..] {
            assert_ne!(a, b);
        }
    }
    assert_eq!(d(&1usize), d(&1u64));
    assert_eq!(d(&-1isize), d(&-1i64));
    assert_ne!(d(&'a'), d(&97u32));
    assert_ne!(d(&true), d(&1u8));
}

#[test]
fn floats_hash_their_bits() {
    assert_ne!(d(&0.0f64), d(&-0.0f64));
    assert_ne!(d(&1.0f32), d(&1.0f64));
    let nan = f64::NAN;
    let other_nan = f64::from_bits(nan.to_bits() | 1);
    assert!(other_nan.is_nan());
    assert_eq!(d(&nan), d(&nan));
    assert_ne!(d(&nan), d(&other_nan));
}

mod renamed {
    use serde::Serialize;

    #[derive(Serialize)]
    #[serde(rename = "P")]
    pub struct Xy {
        pub x: u32,
        pub y: u32,
    }

    #[derive(Serialize)]
    #[serde(rename = "P")]
    pub struct Yx {
        pub y: u32,
        pub x: u32,
    }

    #[derive(Serialize)]
    #[serde(rename = "P")]
    pub struct Xz {
        pub x: u32,
        pub z: u32,
    }

    #[derive(Serialize)]
    #[serde(rename = "Q")]
    pub struct Other {
        pub x: u32,
        pub y: u32,
    }

    #[derive(Serialize)]
    pub enum E {
        A(u32),
        B(u32),
    }
}

#[test]
fn names_take_part() {
    use renamed::*;
    let base = d(&Xy { x: 1, y: 2 });
    // The fields swapped names: same values in the same order.
    assert_ne!(base, d(&Yx { y: 1, x: 2 }));
    assert_ne!(base, d(&Xz { x: 1, z: 2 }));
    assert_ne!(base, d(&Other { x: 1, y: 2 }));
    assert_ne!(base, d(&(1u32, 2u32)));
    assert_ne!(d(&E::A(1)), d(&E::B(1)));
}

#[test]
fn length_hint_is_not_hashed() {
    let v = [1u16, 2, 3];
    assert_eq!(d(&OneByOne(&v, true)), d(&OneByOne(&v, false)));
    assert_eq!(d(&OneByOne(&v, true)), d(&v[..]));
}

#[test]
fn collect_str_equals_str() {
    assert_eq!(d(&Shown(12345)), d("12345"));
    let long = "é".repeat(5000);
    assert_eq!(d(&Shown(&long)), d(long.as_str()));
}

#[test]
fn maps_ignore_iteration_order() {
    let forward: HashMap<String, u64> = (0..1000).map(|i| (i.to_string(), i)).collect();
    let mut backward = HashMap::new();
    for i in (0..1000u64).rev() {
        backward.insert(i.to_string(), i);
    }
    let tree: BTreeMap<String, u64> = forward.clone().into_iter().collect();
    assert_eq!(d(&forward), d(&backward));
    assert_eq!(d(&forward), d(&tree));
    assert_ne!(d(&forward), d(&tree.iter().collect::<Vec<_>>()));
    // An entry is key and value together, not two loose halves.
    let a: BTreeMap<u8, u8> = [(1, 2), (3, 4)].into();
    let b: BTreeMap<u8, u8> = [(1, 4), (3, 2)].into();
    assert_ne!(d(&a), d(&b));
    assert_ne!(d(&BTreeMap::<u8, u8>::new()), d(&BTreeSet::<u8>::new()));
}

#[test]
fn nested_maps_ignore_order() {
    let inner = |rev: bool| -> HashMap<u32, Vec<f64>> {
        let mut keys: Vec<u32> = (0..50).collect();
        if rev {
            keys.reverse();
        }
        keys.into_iter()
            .map(|k| (k, vec![f64::from(k); k as usize]))
            .collect()
    };
    let a: HashMap<&str, HashMap<u32, Vec<f64>>> = [("x", inner(false)), ("y", inner(true))].into();
    let b: BTreeMap<&str, HashMap<u32, Vec<f64>>> =
        [("y", inner(false)), ("x", inner(true))].into();
    assert_eq!(d(&a), d(&b));
}

#[test]
fn sets_are_recognised() {
    let forward: HashSet<u32> = (0..1000).collect();
    let backward: HashSet<u32> = (0..1000).rev().collect();
    let tree: BTreeSet<u32> = (0..1000).collect();
    let heap: BinaryHeap<u32> = (0..1000).collect();
    assert_eq!(d(&forward), d(&backward));
    assert_eq!(d(&forward), d(&tree));
    assert_eq!(d(&forward), d(&heap));
    assert_ne!(d(&tree), d(&tree.iter().collect::<Vec<_>>()));
    let sets = |rev: bool| -> Vec<HashSet<u32>> {
        (0..4)
            .map(|i| {
                if rev {
                    (0..100 * i).rev().collect()
                } else {
                    (0..100 * i).collect()
                }
            })
            .collect()
    };
    assert_eq!(d(&sets(false)), d(&sets(true)));
    // A vector of sets is still ordered.
    let mut reversed = sets(false);
    reversed.reverse();
    assert_ne!(d(&sets(false)), d(&reversed));
}

#[test]
fn set_detection_looks_at_the_outermost_type() {
    use super::sorted::is_unordered;
    assert!(is_unordered::<&HashSet<u32>>());
    assert!(is_unordered::<&&BTreeSet<Vec<u32>>>());
    assert!(is_unordered::<&mut BinaryHeap<u8>>());
    assert!(!is_unordered::<&Vec<HashSet<u32>>>());
    assert!(!is_unordered::<&[BTreeSet<u32>]>());
    assert!(!is_unordered::<&[BTreeSet<u32>; 2]>());
    assert!(!is_unordered::<&(HashSet<u32>, u8)>());
    assert!(!is_unordered::<&Box<dyn Iterator<Item = HashSet<u32>>>>());
    assert!(!is_unordered::<&VecDeque<u32>>());
    assert!(!is_unordered::<&LinkedList<HashSet<u32>>>());
}

/// Hashes `values` through every path that should give the same stream.
fn assert_paths_agree<T: Serialize + Clone>(values: Vec<T>) {
    let expected = d(&values);
    let deque: VecDeque<T> = values.iter().cloned().collect();
    let list: LinkedList<T> = values.iter().cloned().collect();
    let boxed: Box<[T]> = values.clone().into_boxed_slice();
    let n = values.len();
    assert_eq!(d(&deque), expected, "VecDeque, {n} items");
    assert_eq!(d(&list), expected, "LinkedList, {n} items");
    assert_eq!(
        d(&OneByOne(&values, false)),
        expected,
        "one by one, {n} items"
    );
    assert_eq!(
        d(&OneByOne(&values, true)),
        expected,
        "one by one with hint, {n} items"
    );
    assert_eq!(d(&values[..]), expected, "slice, {n} items");
    assert_eq!(d(&boxed), expected, "Box<[T]>, {n} items");
    // Inside other tokens, next to scalars of the same type.
    let first = values.first().cloned();
    assert_eq!(
        d(&(first.clone(), &values, first.clone())),
        d(&(first.clone(), &deque, first)),
        "{n} items"
    );
}

macro_rules! bulk_tests {
    ($($name:ident: $t:ty),* $(,)?) => { $(
        #[test]
        fn $name() {
            // Lengths around the buffer's capacity, where runs get flushed.
            let full = CAPACITY / size_of::<$t>();
            #[cfg(target_endian = "little")]
            assert!(super::bulk::scalar_bytes(&&vec![0 as $t]).is_some(), "bulk path taken");
            for n in [0, 1, 2, full - 1, full, full + 1, 3 * full + 7] {
                assert_paths_agree((0..n).map(|i| i as $t).collect());
            }
        }
    )* };
}

bulk_tests!(
    bulk_u8: u8, bulk_i8: i8, bulk_u16: u16, bulk_i16: i16, bulk_u32: u32, bulk_i32: i32,
    bulk_u64: u64, bulk_i64: i64, bulk_u128: u128, bulk_i128: i128, bulk_f32: f32,
    bulk_f64: f64, bulk_usize: usize, bulk_isize: isize,
);

#[test]
fn bools_and_chars_stream_like_numbers() {
    let full = CAPACITY;
    for n in [full - 1, full, full + 1, 2 * full + 3] {
        let bools: Vec<bool> = (0..n).map(|i| i % 3 == 0).collect();
        assert_paths_agree(bools);
    }
    let chars: Vec<char> = "héllo wörld"
        .chars()
        .cycle()
        .take(3 * CAPACITY / 4 + 7)
        .collect();
    assert_paths_agree(chars);
}

#[test]
fn pointer_sized_slices_match_fixed_width() {
    assert_eq!(d(&vec![1usize, 2, 3]), d(&vec![1u64, 2, 3]));
    assert_eq!(d(&vec![-1isize, 2]), d(&vec![-1i64, 2]));
}

#[test]
fn arrays_are_tuples() {
    assert_eq!(d(&[1.0f64, 2.0]), d(&(1.0f64, 2.0f64)));
    assert_ne!(d(&[1.0f64, 2.0]), d(&vec![1.0f64, 2.0]));
}

#[test]
fn errors_are_reported() {
    let err = digest(&Broken).unwrap_err();
    assert!(err.0.contains("broken on purpose"), "{err}");
    assert!(digest(&(1u8, vec![Broken])).is_err());
    let map: BTreeMap<u8, Broken> = [(1, Broken)].into();
    assert!(digest(&map).is_err());
    let set = BTreeSet::from([Shown(Failing)]);
    assert!(digest(&set).is_err());
}

/// A `Display` that fails.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Failing;

impl fmt::Display for Failing {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        Err(fmt::Error)
    }
}

impl<T: Ord> Ord for Shown<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

impl<T: Ord> PartialOrd for Shown<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<T: Eq> PartialEq for Shown<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<T: Eq> Eq for Shown<T> {}

/// A map serializer used directly, key and value in separate calls.
#[test]
fn split_map_entries_equal_whole_entries() {
    struct Split;
    impl Serialize for Split {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(None)?;
            map.serialize_key("b")?;
            map.serialize_value(&2u8)?;
            map.serialize_entry("a", &1u8)?;
            map.end()
        }
    }
    let expected: BTreeMap<&str, u8> = [("a", 1), ("b", 2)].into();
    assert_eq!(d(&Split), d(&expected));
}

#[test]
fn a_failed_digest_leaves_no_trace() {
    let before = d(&(1u8, "x", BTreeMap::from([(1u8, 2u8)])));
    let map = BTreeMap::from([(1u8, (2u8, Broken))]);
    assert!(digest(&(1u8, "half", map)).is_err());
    assert_eq!(d(&(1u8, "x", BTreeMap::from([(1u8, 2u8)]))), before);
}

#[test]
fn digest_may_be_called_from_serialize() {
    struct Prehashed;
    impl Serialize for Prehashed {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let inner = digest(&vec![1.0f64; 100]).map_err(S::Error::custom)?;
            serializer.serialize_u128(inner)
        }
    }
    let inner = d(&vec![1.0f64; 100]);
    assert_eq!(d(&Prehashed), d(&inner));
    assert_eq!(d(&(Prehashed, Prehashed)), d(&(inner, inner)));
}

#[test]
fn threads_agree() {
    let value: HashMap<String, Vec<f64>> = (0..100)
        .map(|i| (i.to_string(), vec![f64::from(i); i as usize]))
        .collect();
    let here = d(&value);
    let there = std::thread::scope(|s| s.spawn(|| d(&value)).join().expect("no panic"));
    assert_eq!(here, there);
}

#[test]
fn large_runs_agree_on_every_path() {
    use super::run::{LARGE_RUN, run_digest};
    // Around the digest-run threshold, and past the two-thread one.
    let at = LARGE_RUN / 8;
    for n in [at - 1, at, at + 1, 5 * at + 3] {
        assert_paths_agree((0..n).map(|i| i as f64).collect());
    }
    // Bools stream one by one (no bulk path): they spill, then digest.
    let bools: Vec<bool> = (0..LARGE_RUN + 5).map(|i| i % 7 == 0).collect();
    let one = d(&OneByOne(&bools, false));
    assert_eq!(d(&bools.iter().copied().collect::<VecDeque<_>>()), one);
    // A digest run is the documented token.
    let values: Vec<u8> = (0..LARGE_RUN).map(|i| (i % 251) as u8).collect();
    let mut stream = vec![tags::SEQ];
    stream.extend_from_slice(&run_digest(&values).to_le_bytes());
    stream.extend_from_slice(&(values.len() as u64).to_le_bytes());
    stream.extend_from_slice(&[tags::U8, tags::RUN_DIGEST, tags::END]);
    assert_eq!(d(&values), xxh3_128(&stream));
    // One element fewer is a raw run, and differs.
    assert_ne!(d(&values[1..]), d(&values));
}

#[test]
fn a_known_digest_is_taken_as_is() {
    use super::run::{LARGE_RUN, run_digest, with_known};
    let values: Vec<u16> = (0..LARGE_RUN / 2 + 9).map(|i| i as u16).collect();
    let bytes: &[u8] = bytemuck_bytes(&values);
    let expected = d(&values);
    assert_eq!(
        with_known(bytes, run_digest(bytes), || d(&values)),
        expected
    );
    // A wrong known digest shows (proving it is used), for these bytes only.
    assert_ne!(with_known(bytes, 7, || d(&values)), expected);
    assert_eq!(with_known(bytes, 7, || d(&values[1..])), d(&values[1..]));
}

fn bytemuck_bytes(values: &[u16]) -> &[u8] {
    // SAFETY: u16 has no padding; the borrow is carried over.
    unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), size_of_val(values)) }
}
