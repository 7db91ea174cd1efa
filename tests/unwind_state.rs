//! A panic caught on a thread (as thread pools and test harnesses catch
//! them) leaves no memo state behind on that thread: a user's `Serialize`
//! panicking while an output is stored or an argument hashed, or a
//! handle's closure panicking, changes nothing for the calls that follow.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use memo_tests::process_cache_dir;
use memory::{Array, Memory, handle};
use serde::{Deserialize, Serialize, Serializer};

static DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static CACHE: LazyLock<Memory> = LazyLock::new(|| Memory::new(DIR.as_path()));

/// Panics in `Serialize` while `ARMED` is set.
#[derive(Deserialize, Debug)]
struct Trap;

static ARMED: AtomicBool = AtomicBool::new(false);

impl Serialize for Trap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        assert!(!ARMED.load(Ordering::SeqCst), "a user's Serialize panics");
        serializer.serialize_unit()
    }
}

/// An output whose arrays go to the sink before its trap goes off.
#[derive(Serialize, Deserialize, Debug)]
struct Trapped {
    values: Array<f64>,
    trap: Trap,
}

#[memory::cache(memory = CACHE)]
fn trapped(n: u64) -> Trapped {
    Trapped {
        values: (0..n).map(|i| i as f64).collect(),
        trap: Trap,
    }
}

static SUM_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = CACHE)]
fn sum(values: Array<f64>) -> f64 {
    SUM_RUNS.fetch_add(1, Ordering::SeqCst);
    values.iter().sum()
}

/// Digest of `value` on a thread where nothing went wrong.
fn clean_digest<T: Serialize + Send + Sync>(value: &T) -> u128 {
    std::thread::scope(|scope| {
        scope
            .spawn(|| memory::hash::digest(value).unwrap())
            .join()
            .unwrap()
    })
}

#[test]
fn a_panic_in_serialize_while_storing_leaves_arrays_serializing_as_numbers() {
    ARMED.store(true, Ordering::SeqCst);
    let caught = catch_unwind(|| trapped(3));
    ARMED.store(false, Ordering::SeqCst);
    assert!(caught.is_err(), "the user's panic reaches the caller");

    // Same thread: an array is plain numbers again, for any serializer...
    let array: Array<f64> = vec![1.5, 2.5].into();
    assert_eq!(serde_json::to_string(&array).unwrap(), "[1.5,2.5]");
    // ...hashes the same on every call, as on a clean thread...
    let digest = memory::hash::digest(&array).unwrap();
    assert_eq!(memory::hash::digest(&array).unwrap(), digest);
    assert_eq!(digest, clean_digest(&array));
    // ...and a cached call taking it hits the second time.
    assert_eq!(sum(array.clone()), 4.0);
    assert_eq!(sum(array), 4.0);
    assert_eq!(SUM_RUNS.load(Ordering::SeqCst), 1, "the second call hits");
    // The call that panicked stores its output once it no longer panics.
    assert_eq!(trapped(3).values.as_slice(), &[0.0, 1.0, 2.0]);
}

/// Panics in `Serialize` after writing part of a map, on request.
struct HalfMap {
    panic: bool,
}

impl Serialize for HalfMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("a", &[1u64, 2, 3])?;
        assert!(!self.panic, "a user's Serialize panics mid-map");
        map.serialize_entry("b", &4u64)?;
        map.end()
    }
}

#[test]
fn a_panic_in_serialize_while_hashing_leaves_hashing_right() {
    let whole = HalfMap { panic: false };
    let expected = clean_digest(&whole);
    for _ in 0..3 {
        let caught = catch_unwind(|| memory::hash::digest(&HalfMap { panic: true }));
        assert!(caught.is_err());
        assert_eq!(memory::hash::digest(&whole).unwrap(), expected);
        assert_eq!(
            memory::hash::digest(&[7u8; 3]).unwrap(),
            clean_digest(&[7u8; 3])
        );
    }
}

static DOUBLE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = CACHE)]
fn double(x: u64) -> u64 {
    DOUBLE_RUNS.fetch_add(1, Ordering::SeqCst);
    x * 2
}

#[test]
fn a_panic_in_a_handles_closure_leaves_later_calls_alone() {
    assert_eq!(double(21), 42);
    let runs = DOUBLE_RUNS.load(Ordering::SeqCst);
    let boom = |x: u64| -> u64 {
        assert!(x == 0, "the closure panics before its cached call");
        double(x)
    };
    assert!(catch_unwind(|| handle(|| boom(1)).clear()).is_err());
    assert!(catch_unwind(|| handle(|| boom(1)).call()).is_err());
    assert!(catch_unwind(|| handle(|| boom(1)).check_call_in_cache()).is_err());

    // Plain calls on this thread are plain: a hit, no probe acting on it.
    let plain = catch_unwind(AssertUnwindSafe(|| double(21)));
    assert_eq!(
        plain.ok(),
        Some(42),
        "a plain call after the panics returns"
    );
    assert_eq!(DOUBLE_RUNS.load(Ordering::SeqCst), runs, "and hits");
    assert!(handle(|| double(21)).check_call_in_cache(), "not cleared");
}

static QUADRUPLE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = CACHE)]
fn quadruple(x: u64) -> u64 {
    QUADRUPLE_RUNS.fetch_add(1, Ordering::SeqCst);
    x * 4
}

async fn boom_async(x: u64) -> u64 {
    assert!(x == 0, "the future panics before its cached call");
    quadruple(x)
}

#[test]
fn a_panic_in_an_async_handles_future_leaves_later_calls_alone() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(quadruple(5), 20);
    let runs = QUADRUPLE_RUNS.load(Ordering::SeqCst);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(handle(|| boom_async(1)).call_async())
    }));
    assert!(caught.is_err());
    let plain = catch_unwind(AssertUnwindSafe(|| quadruple(5)));
    assert_eq!(plain.ok(), Some(20));
    assert_eq!(QUADRUPLE_RUNS.load(Ordering::SeqCst), runs, "a hit");
}
