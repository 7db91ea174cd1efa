use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::ser::{Error as _, SerializeSeq};

use super::render;

fn r<T: Serialize + ?Sized>(value: &T) -> String {
    rl(value, 1000)
}

fn rl<T: Serialize + ?Sized>(value: &T, limit: usize) -> String {
    let mut out = String::new();
    render(value, limit, &mut out);
    out
}

#[derive(Serialize)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Serialize)]
struct Meters(u32);

#[derive(Serialize)]
struct Pair(u8, &'static str);

#[derive(Serialize)]
struct Unit;

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
enum Shape {
    Dot,
    Circle(f64),
    Line(i32, i32),
    Rect { w: u32, h: u32 },
}

struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

struct Shown<T>(T);

impl<T: std::fmt::Display> Serialize for Shown<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

struct Broken;

impl Serialize for Broken {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(S::Error::custom("no"))
    }
}

#[test]
fn scalars_print_like_rust() {
    assert_eq!(r(&1u8), "1");
    assert_eq!(r(&-7i64), "-7");
    assert_eq!(r(&u128::MAX), u128::MAX.to_string());
    assert_eq!(r(&1.0f64), "1.0");
    assert_eq!(r(&-0.0f32), "-0.0");
    assert_eq!(r(&f64::NAN), "NaN");
    assert_eq!(r(&true), "true");
    assert_eq!(r(&'x'), "'x'");
    assert_eq!(r(&'\''), "'\\''");
    assert_eq!(r(&()), "()");
}

#[test]
fn strings_are_quoted_like_debug() {
    for s in ["", "a", "it's \"quoted\"\n", "tab\there", "héllo ✓"] {
        assert_eq!(r(s), format!("{s:?}"));
    }
    assert_eq!(r(&Shown(42)), "\"42\"");
    assert_eq!(r(&Shown("a\"b")), r#""a\"b""#);
    assert_eq!(r(&Bytes(b"ab\x00\"")), r#"b"ab\x00\"""#);
}

#[test]
fn containers_print_like_rust() {
    assert_eq!(r(&Some(1)), "Some(1)");
    assert_eq!(r(&None::<u8>), "None");
    assert_eq!(r(&vec![1, 2, 3]), "[1, 2, 3]");
    assert_eq!(r(&Vec::<u8>::new()), "[]");
    assert_eq!(r(&(1, "a")), r#"(1, "a")"#);
    assert_eq!(r(&(1,)), "(1,)");
    assert_eq!(r(&Point { x: 1, y: 2 }), "Point { x: 1, y: 2 }");
    assert_eq!(r(&Meters(5)), "Meters(5)");
    assert_eq!(r(&Pair(1, "b")), r#"Pair(1, "b")"#);
    assert_eq!(r(&Unit), "Unit");
    assert_eq!(r(&Empty {}), "Empty");
    assert_eq!(r(&Shape::Dot), "Dot");
    assert_eq!(r(&Shape::Circle(1.5)), "Circle(1.5)");
    assert_eq!(r(&Shape::Line(1, 2)), "Line(1, 2)");
    assert_eq!(r(&Shape::Rect { w: 3, h: 4 }), "Rect { w: 3, h: 4 }");
    assert_eq!(r(&Ok::<u8, ()>(1)), "Ok(1)");
    let map: BTreeMap<&str, u8> = [("a", 1), ("b", 2)].into();
    assert_eq!(r(&map), r#"{"a": 1, "b": 2}"#);
    assert_eq!(r(&BTreeMap::<u8, u8>::new()), "{}");
}

#[test]
fn long_sequences_are_cut_with_their_length() {
    let v: Vec<f64> = (0..1_000_000).map(f64::from).collect();
    let out = rl(&v, 20);
    assert_eq!(out, "[0.0, 1.0, 2.0, 3.0, 4.0, … 1000000 items]");
    let nested = vec![vec![7u8; 100]; 10];
    assert_eq!(rl(&nested, 12), "[[7, 7, 7, 7, … 100 items], … 10 items]");
    let map: BTreeMap<u32, u32> = (0..100).map(|i| (i, i)).collect();
    assert_eq!(rl(&map, 10), "{0: 0, 1: 1, … 100 entries}");
    assert_eq!(rl(&Some(vec![1u8; 50]), 10), "Some([1, 1, … 50 items])");
    assert_eq!(
        rl(&(1u8, vec![2u8; 9], 3u8), 7),
        "(1, [2, 2, … 9 items], … 3 items)"
    );
    assert_eq!(rl(&Point { x: 1, y: 2 }, 8), "Point { x: 1, … }");
    assert_eq!(rl(&vec![1u8, 2], 0), "[… 2 items]");
}

#[test]
fn long_strings_are_cut() {
    let long = "x".repeat(1000);
    assert_eq!(rl(long.as_str(), 10), format!("\"{}…\"", "x".repeat(9)));
    assert_eq!(rl(&Shown(&long), 10), format!("\"{}…\"", "x".repeat(9)));
    assert_eq!(rl(&Bytes(&[0u8; 100]), 10), r#"b"\x00\x00…""#);
}

#[test]
fn a_huge_vector_renders_in_no_time() {
    // 256 MiB, zeroed lazily by the allocator: only what is rendered
    // is ever touched.
    let v = vec![0.0f64; 32 << 20];
    let start = Instant::now();
    let out = rl(&v, 80);
    assert!(
        start.elapsed() < Duration::from_millis(50),
        "{:?}",
        start.elapsed()
    );
    assert!(out.ends_with(", … 33554432 items]"), "{out}");
    assert!(out.len() < 120, "{out}");
}

#[test]
fn errors_keep_what_was_rendered() {
    assert_eq!(r(&(1, Broken)), "(1, <error>");
    assert_eq!(r(&Broken), "<error>");
    struct BadDisplay;
    impl std::fmt::Display for BadDisplay {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            Err(std::fmt::Error)
        }
    }
    assert_eq!(r(&Shown(BadDisplay)), "\"<error>");
}

#[test]
fn appends_to_existing_output() {
    let mut out = String::from("f(");
    render(&vec![1u8; 100], 6, &mut out);
    assert_eq!(out, "f([1, 1, 1, … 100 items]");
}

/// An impl that ignores the stop and keeps going still gets bounded,
/// well-formed output.
#[test]
fn swallowed_stops_stay_bounded() {
    struct Stubborn;
    impl Serialize for Stubborn {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(None)?;
            for i in 0..10_000 {
                let _ = seq.serialize_element(&i);
            }
            seq.end()
        }
    }
    assert_eq!(rl(&Stubborn, 8), "[0, 1, 2, …]");
}
