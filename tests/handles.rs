//! Handles: joblib's `MemorizedFunc` abilities (`call`,
//! `call_and_shelve`, `check_call_in_cache`, `clear`) through one path,
//! `memory::handle(|| the_call)`, the same for free functions, methods,
//! generic and async functions.

use std::path::PathBuf;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use memo_tests::entry_files;
use memory::{Memory, handle};
use serde::Serialize;

fn temp_dir() -> PathBuf {
    memo_tests::process_cache_dir()
}

macro_rules! counter {
    ($name:ident) => {
        static $name: AtomicUsize = AtomicUsize::new(0);
    };
}

fn count(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

static SQUARE_DIR: LazyLock<PathBuf> = LazyLock::new(temp_dir);
static SQUARE_CACHE: LazyLock<Memory> = LazyLock::new(|| Memory::new(SQUARE_DIR.as_path()));
counter!(SQUARE_RUNS);

#[memory::cache(memory = SQUARE_CACHE)]
fn square(x: u64) -> u64 {
    SQUARE_RUNS.fetch_add(1, Ordering::SeqCst);
    x * x
}

#[test]
fn free_function_handle_does_what_memorized_func_does() {
    // check_call_in_cache never runs the function.
    assert!(!handle(|| square(3)).check_call_in_cache());
    assert_eq!(count(&SQUARE_RUNS), 0);

    // call always runs and stores, and returns the metadata.
    let (value, info) = handle(|| square(3)).call();
    assert_eq!(value, 9);
    let info = info.expect("stored");
    assert_eq!(info.call, "square(3)");
    assert!(info.identity.ends_with("handles::square"), "{info:?}");
    assert!(info.size > 0);
    assert_eq!(count(&SQUARE_RUNS), 1);
    assert!(handle(|| square(3)).check_call_in_cache());
    assert_eq!(square(3), 9, "a plain call hits");
    assert_eq!(count(&SQUARE_RUNS), 1);
    let (_, again) = handle(|| square(3)).call();
    assert_eq!(count(&SQUARE_RUNS), 2, "call recomputes even when stored");
    assert!(again.unwrap().created >= info.created);
    assert_eq!(entry_files(&SQUARE_DIR).len(), 1, "replaced, not added");

    // call_and_shelve stores without handing back the output.
    let shelved = handle(|| square(4)).call_and_shelve().expect("stored");
    assert_eq!(count(&SQUARE_RUNS), 3);
    assert_eq!(shelved.get::<u64>().unwrap(), 16);
    assert_eq!(shelved.info().call, "square(4)");
    let again = handle(|| square(4)).call_and_shelve().expect("stored");
    assert_eq!(count(&SQUARE_RUNS), 3, "a shelved hit runs nothing");
    assert!(again.get::<String>().is_err(), "stored as u64, not String");
    shelved.clear().unwrap();
    assert!(!handle(|| square(4)).check_call_in_cache());
    assert!(shelved.get::<u64>().is_err(), "cleared");

    // clear forgets every result of the function; the call's arguments
    // only name it.
    assert!(handle(|| square(3)).check_call_in_cache());
    handle(|| square(0)).clear().unwrap();
    assert!(!handle(|| square(3)).check_call_in_cache());
    assert!(entry_files(&SQUARE_DIR).is_empty());
    assert_eq!(count(&SQUARE_RUNS), 3, "clear and checks ran nothing");
    assert!(handle(|| square(1)).identity().ends_with("handles::square"));
}

static MODEL_CACHE: LazyLock<Memory> = LazyLock::new(|| Memory::new(temp_dir()));
counter!(PREDICT_RUNS);

#[derive(Serialize)]
struct Model {
    weight: i64,
}

impl Model {
    #[memory::cache(memory = MODEL_CACHE)]
    fn predict(&self, x: i64) -> i64 {
        PREDICT_RUNS.fetch_add(1, Ordering::SeqCst);
        self.weight * x
    }
}

#[test]
fn method_handles_take_the_same_path() {
    let model = Model { weight: 2 };
    let other = Model { weight: 3 };
    assert!(!handle(|| model.predict(5)).check_call_in_cache());
    assert_eq!(handle(|| model.predict(5)).call().0, 10);
    assert!(handle(|| model.predict(5)).check_call_in_cache());
    assert!(
        !handle(|| other.predict(5)).check_call_in_cache(),
        "another instance, another entry"
    );
    let identity = handle(|| model.predict(0)).identity();
    assert!(identity.ends_with("handles::Model::predict"), "{identity}");
    handle(|| other.predict(0)).clear().unwrap();
    assert!(!handle(|| model.predict(5)).check_call_in_cache());
    assert_eq!(count(&PREDICT_RUNS), 1);
}

static GENERIC_CACHE: LazyLock<Memory> = LazyLock::new(|| Memory::new(temp_dir()));

#[memory::cache(memory = GENERIC_CACHE)]
fn describe<T: Serialize + std::fmt::Debug>(value: T) -> String {
    format!("{value:?}")
}

#[test]
fn generic_handles_name_one_instantiation_and_clear_all() {
    describe(1u32);
    assert!(handle(|| describe(1u32)).check_call_in_cache());
    assert!(!handle(|| describe(1u64)).check_call_in_cache());
    describe(1u64);
    handle(|| describe(0u8)).clear().unwrap();
    assert!(!handle(|| describe(1u32)).check_call_in_cache());
    assert!(!handle(|| describe(1u64)).check_call_in_cache());
}

static RESULT_CACHE: LazyLock<Memory> = LazyLock::new(|| Memory::new(temp_dir()));

#[memory::cache(memory = RESULT_CACHE)]
fn parse(text: String) -> Result<u64, String> {
    text.parse().map_err(|_| format!("not a number: {text}"))
}

#[test]
fn err_outputs_are_returned_not_shelved() {
    let (output, info) = handle(|| parse("x".into())).call();
    assert!(output.is_err());
    assert!(info.is_none(), "an Err is never stored");
    let unshelved = handle(|| parse("y".into())).call_and_shelve();
    assert_eq!(unshelved.unwrap_err(), Err("not a number: y".to_owned()));
    let shelved = handle(|| parse("7".into())).call_and_shelve().unwrap();
    assert_eq!(shelved.get::<u64>().unwrap(), 7, "stored as the Ok type");
}

static DISABLED: LazyLock<Memory> = LazyLock::new(Memory::disabled);
counter!(DISABLED_RUNS);

#[memory::cache(memory = DISABLED)]
fn uncached(x: u64) -> u64 {
    DISABLED_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn a_disabled_memory_keeps_nothing() {
    assert_eq!(handle(|| uncached(1)).call(), (1, None));
    assert_eq!(handle(|| uncached(2)).call_and_shelve().unwrap_err(), 2);
    assert!(!handle(|| uncached(1)).check_call_in_cache());
    handle(|| uncached(1)).clear().unwrap();
    assert_eq!(count(&DISABLED_RUNS), 2);
}

static NESTED_CACHE: LazyLock<Memory> = LazyLock::new(|| Memory::new(temp_dir()));
counter!(INNER_RUNS);
counter!(OUTER_RUNS);

#[memory::cache(memory = NESTED_CACHE)]
fn inner(x: u64) -> u64 {
    INNER_RUNS.fetch_add(1, Ordering::SeqCst);
    x + 1
}

#[memory::cache(memory = NESTED_CACHE)]
fn outer(x: u64) -> u64 {
    OUTER_RUNS.fetch_add(1, Ordering::SeqCst);
    inner(x) * 2
}

#[test]
fn only_the_first_cached_call_is_affected() {
    assert_eq!(outer(1), 4);
    // Recomputing `outer` does not recompute `inner`: it hits.
    assert_eq!(handle(|| outer(1)).call().0, 4);
    assert_eq!((count(&OUTER_RUNS), count(&INNER_RUNS)), (2, 1));
}

#[test]
#[should_panic(expected = "the closure made no cached call")]
fn a_closure_without_a_cached_call_is_a_clear_panic() {
    let _ = handle(|| 1 + 1).check_call_in_cache();
}

static ASYNC_CACHE: LazyLock<Memory> = LazyLock::new(|| Memory::new(temp_dir()));
counter!(FETCH_RUNS);

#[memory::cache(memory = ASYNC_CACHE)]
async fn fetch(id: u64) -> String {
    FETCH_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::task::yield_now().await;
    format!("record {id}")
}

#[tokio::test]
async fn async_handles_use_the_async_methods() {
    assert!(!handle(|| fetch(1)).check_call_in_cache_async().await);
    let (value, info) = handle(|| fetch(1)).call_async().await;
    assert_eq!(value, "record 1");
    assert_eq!(info.unwrap().call, "fetch(1)");
    assert!(handle(|| fetch(1)).check_call_in_cache_async().await);
    let shelved = handle(|| fetch(1)).call_and_shelve_async().await.unwrap();
    assert_eq!(shelved.get::<String>().unwrap(), "record 1");
    assert_eq!(count(&FETCH_RUNS), 1);
    assert!(
        handle(|| fetch(0))
            .identity_async()
            .await
            .ends_with("handles::fetch")
    );
    handle(|| fetch(0)).clear_async().await.unwrap();
    assert!(!handle(|| fetch(1)).check_call_in_cache_async().await);
}

#[test]
#[should_panic(expected = "use the `_async` methods")]
fn a_sync_handle_on_an_async_fn_says_what_to_do() {
    let _ = handle(|| fetch(9)).call();
}
