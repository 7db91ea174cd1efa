//! Argument hashing: golden vectors pin the canonical stream, and map order
//! does not matter even across processes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::Command;

use memory::hash::{Digest, SCHEME_VERSION, digest};
use serde::Serialize;

#[derive(Serialize)]
struct Point {
    x: i64,
    y: i64,
    label: String,
}

#[derive(Serialize)]
enum Shape {
    Empty,
    Circle(u32),
    Line(u8, u8),
    Rect { wide: bool, area: f32 },
}

/// Serializes as bytes, like `serde_bytes` does.
struct Bytes(&'static [u8]);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

fn d<T: Serialize + ?Sized>(value: &T) -> Digest {
    digest(value).expect("hashable")
}

/// Every case: a name and the digest of its value.
fn cases() -> Vec<(&'static str, Digest)> {
    let map: HashMap<String, u32> = [("a", 1), ("b", 2), ("c", 3)]
        .map(|(k, v)| (k.to_owned(), v))
        .into();
    let tree: BTreeMap<String, u32> = map.clone().into_iter().collect();
    let set: HashSet<u32> = [3, 1, 2].into();
    let floats: Vec<f64> = (0..100_000).map(|i| f64::from(i) * 0.25).collect();
    let bytes: Vec<u8> = (0..=255).collect();
    // 5 MiB of f64: a digest run, hashed on two threads.
    let large: Vec<f64> = (0..655_360).map(|i| f64::from(i) * 0.5).collect();
    vec![
        ("u8", d(&7u8)),
        ("u16", d(&7u16)),
        ("u32", d(&7u32)),
        ("u64", d(&7u64)),
        ("u128", d(&7u128)),
        ("usize", d(&7usize)),
        ("i8", d(&-7i8)),
        ("i16", d(&-7i16)),
        ("i32", d(&-7i32)),
        ("i64", d(&-7i64)),
        ("i128", d(&-7i128)),
        ("f32", d(&1.5f32)),
        ("f64", d(&1.5f64)),
        ("f64 -0.0", d(&-0.0f64)),
        ("f64 NaN", d(&f64::NAN)),
        ("bool", d(&true)),
        ("char", d(&'λ')),
        ("empty str", d("")),
        ("str", d("hello")),
        ("unicode str", d("héllo ✓ 日本")),
        ("bytes", d(&Bytes(b"\x00\xffab"))),
        ("some", d(&Some(1u32))),
        ("none", d(&None::<u32>)),
        ("unit", d(&())),
        ("tuple", d(&(1u8, "a", 2.5f64))),
        ("nested vecs", d(&vec![vec![1i32], vec![], vec![2, 3]])),
        (
            "struct",
            d(&Point {
                x: -1,
                y: 2,
                label: "p".into(),
            }),
        ),
        ("unit variant", d(&Shape::Empty)),
        ("newtype variant", d(&Shape::Circle(3))),
        ("tuple variant", d(&Shape::Line(1, 2))),
        (
            "struct variant",
            d(&Shape::Rect {
                wide: true,
                area: 2.0,
            }),
        ),
        ("hash map", d(&map)),
        ("btree map", d(&tree)),
        ("hash set", d(&set)),
        ("100k f64", d(&floats)),
        ("bytes as Vec<u8>", d(&bytes)),
        ("5 MiB f64", d(&large)),
        (
            "Option<Vec<String>>",
            d(&Some(vec!["x".to_owned(), String::new()])),
        ),
    ]
}

/// The expected digests. Changing any of them means the stream changed:
/// that invalidates every cache in the wild, so it requires bumping
/// `memory::hash::SCHEME_VERSION` (and updating the pin below).
const GOLDEN: &[(&str, &str)] = &[
    ("u8", "10777b62ba9ee3aa0d9a0625b2557ff9"),
    ("u16", "3d12596893a40cccaed96826eba14a9f"),
    ("u32", "e8451a051383d636896a37784931221f"),
    ("u64", "03a50caac8c64164bfa4fb66525bc214"),
    ("u128", "1333ff20710e05c59296f58783f03b46"),
    ("usize", "03a50caac8c64164bfa4fb66525bc214"),
    ("i8", "8546d52a018a50bb840e4eeadaab3a32"),
    ("i16", "5b37bf1ca693ebb098f7c484457e7a0e"),
    ("i32", "2ca39b6d7c67e8113a2792cbb5619a5a"),
    ("i64", "b4882f9769a57ace404887acb0e9804d"),
    ("i128", "11142c519655d2cbd3267c02ba34209c"),
    ("f32", "4eb1865dd7137c8a8d0cef6a0833c7e2"),
    ("f64", "8841a6b59a44517760d27d1458b5ca4a"),
    ("f64 -0.0", "5c37544cc6ecfc8e365e7a54e3c17450"),
    ("f64 NaN", "f5ead92dd40c6158fa2a97e4752c5ab2"),
    ("bool", "e725f36317f393fd35e9958e29eb8248"),
    ("char", "6c4ab45a6118710e49ddba1cf2594ab9"),
    ("empty str", "9ac92ba2e2178db246090a09f4459bee"),
    ("str", "d01ef1c334d943ed78b44b4596e3042d"),
    ("unicode str", "d8139937f4ead4223a01a843a7e555c9"),
    ("bytes", "2c8a84c4a0ad6fec436dc62e6939c455"),
    ("some", "87cbc3e55e255a14150933c432079a6a"),
    ("none", "b09a451b76367e3d5fbb498e55810a1a"),
    ("unit", "4f4a9030b7abd431fc1537fc103cb7cf"),
    ("tuple", "2181d2f2221a6eadcf9dcd990486a625"),
    ("nested vecs", "6f9a901c9c8c00fc23074e99903f4369"),
    ("struct", "fd596c877aa2611c1cb7e842ad99e58c"),
    ("unit variant", "0ccc6401ddf0a270b2000390fd607065"),
    ("newtype variant", "07010a7e3c783ea025d89e0ab1e8df40"),
    ("tuple variant", "72f11d51f504efb030683314bc18d0cf"),
    ("struct variant", "c42a55a545d42cbecf036ca858a0e72c"),
    ("hash map", "b21f8dd28412930185d7611a9dee1b95"),
    ("btree map", "b21f8dd28412930185d7611a9dee1b95"),
    ("hash set", "f4ad8e6fc590e746585627a1ba5b0dbf"),
    ("100k f64", "43b95679713782e1cd8b6979e3495a6c"),
    ("bytes as Vec<u8>", "50dc979e870d3cb2bcef37165ade6717"),
    ("5 MiB f64", "840a9e3c663d835df2a05b8a247e9782"),
    ("Option<Vec<String>>", "f9e1d416c3472b103f178aa7fc725a01"),
];

#[test]
fn golden_vectors() {
    assert_eq!(
        SCHEME_VERSION, 2,
        "new scheme: recompute the golden vectors"
    );
    let actual: Vec<(&str, String)> = cases()
        .into_iter()
        .map(|(name, d)| (name, format!("{d:032x}")))
        .collect();
    let table: String = actual
        .iter()
        .map(|(name, hex)| format!("    ({name:?}, \"{hex}\"),\n"))
        .collect();
    let expected: Vec<(&str, String)> = GOLDEN
        .iter()
        .map(|&(name, hex)| (name, hex.to_owned()))
        .collect();
    assert!(
        actual == expected,
        "digests changed; if on purpose, bump SCHEME_VERSION and paste:\n{table}"
    );
}

#[test]
fn equal_contents_hash_equal() {
    let golden: HashMap<&str, &str> = GOLDEN.iter().copied().collect();
    assert_eq!(golden["hash map"], golden["btree map"]);
    assert_eq!(golden["usize"], golden["u64"]);
    let distinct: HashSet<&str> = GOLDEN.iter().map(|&(_, hex)| hex).collect();
    assert_eq!(
        distinct.len(),
        GOLDEN.len() - 2,
        "only the two pairs above may collide"
    );
}

/// The map `hash_probe` builds.
fn probe_map() -> BTreeMap<String, u64> {
    (0..1000).map(|i| (format!("key-{i}"), i * i)).collect()
}

fn probe(order: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_hash_probe"))
        .arg(order)
        .output()
        .expect("run hash_probe");
    assert!(
        output.status.success(),
        "hash_probe {order}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("hex digest")
        .trim()
        .to_owned()
}

#[test]
fn map_order_does_not_matter_across_processes() {
    let forward = probe("forward");
    let reverse = probe("reverse");
    assert_eq!(forward, reverse);
    assert_eq!(forward, format!("{:032x}", d(&probe_map())));
}
