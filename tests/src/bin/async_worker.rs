//! An async program with a cached `async fn`, under `#[tokio::main]`:
//! `async_worker N`, caching in `$MEMO_CACHE_DIR` (see `tests/async_fn.rs`).

use std::time::Duration;

#[memory::cache]
async fn download(size: usize) -> Vec<u8> {
    println!("computing download({size})");
    tokio::time::sleep(Duration::from_millis(5)).await;
    vec![0; size]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let size: usize = std::env::args()
        .nth(1)
        .expect("a size")
        .parse()
        .expect("a number");
    let bytes = download(size).await;
    println!("download({size}) = {} bytes", bytes.len());
}
