//! `async fn`s are cached like synchronous ones: the future's output is
//! stored. The attribute works under `#[tokio::main]`-style runtimes, the
//! cached future stays `Send` when its body is, and waiting for another
//! caller computing the same key never blocks the executor — even a
//! single-threaded runtime whose other task holds the compute-once lock.

use std::path::PathBuf;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use memory::Memory;
use serde::Serialize;

fn temp_dir() -> PathBuf {
    memo_tests::process_cache_dir()
}

static CACHE: LazyLock<Memory> = LazyLock::new(|| Memory::new(temp_dir()));

static FETCH_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Awaits inside its body, as real async functions do.
#[memory::cache(memory = CACHE)]
async fn fetch(id: u64) -> String {
    FETCH_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(10)).await;
    format!("record {id}")
}

#[tokio::test]
async fn the_output_of_the_future_is_stored() {
    let before = FETCH_RUNS.load(Ordering::SeqCst);
    assert_eq!(fetch(1).await, "record 1");
    assert_eq!(fetch(1).await, "record 1");
    assert_eq!(fetch(2).await, "record 2");
    assert_eq!(FETCH_RUNS.load(Ordering::SeqCst) - before, 2);
}

static SLOW_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = CACHE)]
async fn slow(id: u64) -> u64 {
    SLOW_RUNS.fetch_add(1, Ordering::SeqCst);
    // Yields to the runtime while it holds the compute-once lock.
    tokio::time::sleep(Duration::from_millis(200)).await;
    id * 10
}

/// Two tasks of one key on a single thread: the second must not block the
/// thread waiting for the lock the first holds (that would deadlock), and
/// the body runs once.
#[test]
fn concurrent_tasks_on_one_thread_compute_once_without_deadlock() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let (a, b) = runtime.block_on(async {
        let first = tokio::spawn(slow(7));
        let second = tokio::spawn(slow(7));
        (first.await.unwrap(), second.await.unwrap())
    });
    assert_eq!((a, b), (70, 70));
    assert_eq!(SLOW_RUNS.load(Ordering::SeqCst), 1);
}

static SPAWNED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = CACHE)]
async fn spawned(id: u64) -> Vec<u64> {
    SPAWNED_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    vec![id; 3]
}

/// `tokio::spawn` on a multi-thread runtime needs `Send` futures: the cached
/// one is, and eight tasks of one key compute it once.
#[test]
fn cached_futures_are_send_and_compute_once_across_worker_threads() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let results = runtime.block_on(async {
        let tasks: Vec<_> = (0..8).map(|_| tokio::spawn(spawned(3))).collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    });
    assert!(results.iter().all(|r| *r == vec![3, 3, 3]));
    assert_eq!(SPAWNED_RUNS.load(Ordering::SeqCst), 1);
}

#[derive(Serialize)]
struct Client {
    base: String,
}

static GET_RUNS: AtomicUsize = AtomicUsize::new(0);

impl Client {
    /// An async method: `self` is part of the key.
    #[memory::cache(memory = CACHE)]
    async fn get(&self, path: &str) -> String {
        GET_RUNS.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        format!("{}/{path}", self.base)
    }
}

#[tokio::test]
async fn async_methods_key_on_self() {
    let a = Client {
        base: "https://a".into(),
    };
    let b = Client {
        base: "https://b".into(),
    };
    assert_eq!(a.get("x").await, "https://a/x");
    assert_eq!(b.get("x").await, "https://b/x");
    assert_eq!(a.get("x").await, "https://a/x");
    assert_eq!(GET_RUNS.load(Ordering::SeqCst), 2);
}

static PARSE_RUNS: AtomicUsize = AtomicUsize::new(0);

/// `Result` outputs: only `Ok` is stored; `?` and `return` work in the body.
#[memory::cache(memory = CACHE)]
async fn parse(text: String) -> Result<u64, String> {
    PARSE_RUNS.fetch_add(1, Ordering::SeqCst);
    if text.is_empty() {
        return Err("empty".to_owned());
    }
    let number = text.parse::<u64>().map_err(|e| e.to_string())?;
    Ok(number)
}

#[tokio::test]
async fn errors_are_not_stored_and_question_mark_works() {
    assert_eq!(parse(String::new()).await, Err("empty".to_owned()));
    assert_eq!(parse(String::new()).await, Err("empty".to_owned()));
    assert!(parse("x".into()).await.is_err());
    assert_eq!(parse("12".into()).await, Ok(12));
    assert_eq!(parse("12".into()).await, Ok(12));
    assert_eq!(PARSE_RUNS.load(Ordering::SeqCst), 4);
}

/// The attribute under `#[tokio::main]`: a whole program, in a helper
/// process, run twice against one cache.
#[test]
fn under_tokio_main_a_second_process_hits() {
    let cache = memo_tests::cache_dir();
    let exe = env!("CARGO_BIN_EXE_async_worker");
    let first = memo_tests::run(exe, cache.path(), &["3"]);
    assert_eq!(first.count("computing download(3)"), 1, "{first:?}");
    assert_eq!(first.count("download(3) = 3 bytes"), 1, "{first:?}");
    let second = memo_tests::run(exe, cache.path(), &["3"]);
    assert_eq!(second.count("computing download(3)"), 0, "{second:?}");
    assert_eq!(second.count("download(3) = 3 bytes"), 1, "{second:?}");
}

trait Source {
    async fn load(&self, key: u64) -> String;
}

#[derive(Serialize)]
struct Remote {
    region: String,
}

static LOAD_RUNS: AtomicUsize = AtomicUsize::new(0);

impl Source for Remote {
    /// An `async fn` of a trait impl.
    #[memory::cache(memory = CACHE)]
    async fn load(&self, key: u64) -> String {
        LOAD_RUNS.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        format!("{}:{key}", self.region)
    }
}

#[tokio::test]
async fn async_trait_methods_are_cached() {
    let eu = Remote {
        region: "eu".into(),
    };
    assert_eq!(eu.load(1).await, "eu:1");
    assert_eq!(eu.load(1).await, "eu:1");
    assert_eq!(LOAD_RUNS.load(Ordering::SeqCst), 1);
}
