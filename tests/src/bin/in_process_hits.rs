//! A program for the in-process tier's usage-record test, run as a real
//! process: `in_process_hits N` calls `counted(1)` N times on a `Memory`
//! in `$MEMO_CACHE_DIR` with the in-process tier (copies never rechecked),
//! then exits normally without flushing: the hits served from memory reach
//! the usage records at exit.

use std::sync::LazyLock;
use std::time::Duration;

use memory::Memory;

static CACHE: LazyLock<Memory> = LazyLock::new(|| {
    Memory::from_env()
        .in_process("1M")
        .in_process_recheck(Duration::from_secs(3600))
});

#[memory::cache(memory = CACHE)]
fn counted(x: u64) -> u64 {
    x + 1
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("usage: in_process_hits N");
    for _ in 0..n {
        assert_eq!(counted(1), 2);
    }
}
