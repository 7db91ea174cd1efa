//! Which call a handle acts on: the one whose result its closure returns
//! (`f` in `f(g(1))`, whatever order the calls begin in), never a call in
//! its arguments; async handles recompute like sync ones, and may borrow.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use memo_tests::process_cache_dir;
use memory::{Memory, handle};

static DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static CACHE: LazyLock<Memory> = LazyLock::new(|| Memory::new(DIR.as_path()));

fn count(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

static INNER_RUNS: AtomicUsize = AtomicUsize::new(0);
static OUTER_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = CACHE)]
fn inner(x: u64) -> u64 {
    INNER_RUNS.fetch_add(1, Ordering::SeqCst);
    x + 1
}

#[memory::cache(memory = CACHE)]
fn outer(x: u64) -> u64 {
    OUTER_RUNS.fetch_add(1, Ordering::SeqCst);
    x * 10
}

#[test]
fn a_handle_on_outer_of_inner_acts_on_outer() {
    assert_eq!(outer(inner(1)), 20);
    assert_eq!((count(&INNER_RUNS), count(&OUTER_RUNS)), (1, 1));

    // check_call_in_cache asks about outer(2), running nothing.
    assert!(handle(|| outer(inner(1))).check_call_in_cache());
    assert!(!handle(|| outer(inner(5))).check_call_in_cache());
    assert_eq!(count(&OUTER_RUNS), 1);

    // call recomputes outer and reports outer's entry.
    let (value, info) = handle(|| outer(inner(1))).call();
    assert_eq!(value, 20);
    let info = info.expect("stored");
    assert_eq!(info.call, "outer(2)");
    assert!(info.identity.ends_with("::outer"), "{info:?}");
    assert_eq!(count(&OUTER_RUNS), 2, "outer recomputed");
    // inner returns the closure's type too: the handle cannot tell, when it
    // begins, that it is an argument, so a recomputation runs it as well.
    assert_eq!(count(&INNER_RUNS), 2);

    // call_and_shelve shelves outer's output.
    let shelved = handle(|| outer(inner(2)))
        .call_and_shelve()
        .expect("stored");
    assert_eq!(shelved.info().call, "outer(3)");
    assert_eq!(shelved.get::<u64>().unwrap(), 30);

    // identity and clear name outer; inner's entries stay.
    assert!(handle(|| outer(inner(1))).identity().ends_with("::outer"));
    handle(|| outer(inner(1))).clear().unwrap();
    assert!(
        !handle(|| outer(inner(1))).check_call_in_cache(),
        "outer cleared"
    );
    assert!(
        !handle(|| outer(inner(2))).check_call_in_cache(),
        "all of it"
    );
    assert!(handle(|| inner(1)).check_call_in_cache(), "inner kept");
    assert!(handle(|| inner(2)).check_call_in_cache(), "inner kept");
}

static LABEL_RUNS: AtomicUsize = AtomicUsize::new(0);
static LENGTH_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = CACHE)]
fn label(x: u64) -> String {
    LABEL_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("item {x}")
}

#[memory::cache(memory = CACHE)]
fn length(text: String) -> usize {
    LENGTH_RUNS.fetch_add(1, Ordering::SeqCst);
    text.len()
}

#[test]
fn an_argument_of_another_type_runs_as_a_plain_cached_call() {
    assert_eq!(length(label(7)), 6);
    // A recomputation of `length` does not run `label` again: it hits.
    let (value, info) = handle(|| length(label(7))).call();
    assert_eq!(value, 6);
    assert_eq!(info.unwrap().call, r#"length("item 7")"#);
    assert_eq!((count(&LABEL_RUNS), count(&LENGTH_RUNS)), (1, 2));
    // Not stored: label(8) is computed (it is an argument), length is not.
    assert!(!handle(|| length(label(8))).check_call_in_cache());
    assert_eq!((count(&LABEL_RUNS), count(&LENGTH_RUNS)), (2, 2));
    handle(|| length(label(0))).clear().unwrap();
    assert!(!handle(|| length(label(7))).check_call_in_cache());
    assert!(handle(|| label(7)).check_call_in_cache(), "label kept");
}

#[memory::cache(memory = CACHE)]
fn triple(x: u64) -> u64 {
    x * 3
}

#[test]
#[should_panic(expected = "no cached call returning alloc::string::String")]
fn a_closure_that_returns_another_type_is_refused() {
    // The closure returns a String made from `triple`'s u64: no cached call
    // returns what the closure returns, so the handle cannot know its call.
    handle(|| triple(3).to_string()).clear().unwrap();
}

static FETCH_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = CACHE)]
async fn fetch(id: u64) -> String {
    FETCH_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::task::yield_now().await;
    format!("record {id}")
}

#[tokio::test]
async fn call_async_runs_the_function_even_when_stored() {
    assert_eq!(fetch(1).await, "record 1");
    assert_eq!(fetch(1).await, "record 1");
    assert_eq!(count(&FETCH_RUNS), 1);
    let (value, info) = handle(|| fetch(1)).call_async().await;
    assert_eq!(value, "record 1");
    assert_eq!(count(&FETCH_RUNS), 2, "call_async always runs, like call");
    let first = info.expect("stored").created;
    let (_, again) = handle(|| fetch(1)).call_async().await;
    assert_eq!(count(&FETCH_RUNS), 3);
    assert!(again.unwrap().created >= first, "the entry was replaced");
    assert_eq!(fetch(1).await, "record 1");
    assert_eq!(count(&FETCH_RUNS), 3, "and a plain call hits it");
}

#[memory::cache(memory = CACHE, ignore = ["calls"], allow(mut_argument))]
async fn tally(x: u64, calls: &mut u64) -> u64 {
    *calls += 1;
    tokio::task::yield_now().await;
    x * 3
}

#[tokio::test]
async fn an_async_handle_may_borrow_the_callers_state() {
    let mut calls = 0;
    let (value, info) = handle(|| tally(2, &mut calls)).call_async().await;
    assert_eq!(value, 6);
    assert_eq!(info.unwrap().call, "tally(2)");
    assert!(
        handle(|| tally(2, &mut calls))
            .check_call_in_cache_async()
            .await
    );
    let shelved = handle(|| tally(2, &mut calls))
        .call_and_shelve_async()
        .await
        .unwrap();
    assert_eq!(shelved.get::<u64>().unwrap(), 6);
    assert_eq!(calls, 1, "only call_async ran the body");
    handle(|| tally(0, &mut calls)).clear_async().await.unwrap();
    assert!(
        !handle(|| tally(2, &mut calls))
            .check_call_in_cache_async()
            .await
    );
}
