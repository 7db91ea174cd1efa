//! The small tokio runtime behind memo's async stores.
//!
//! memo's API is synchronous; `object_store` is async. memo owns one
//! runtime with two worker threads, started on first use, and blocks on it.
//! A cached call made from inside a caller's runtime (an `async fn`, or a
//! sync function called from a task) must not block that runtime's thread
//! on another runtime — tokio forbids it — so there the request is waited
//! for on a short-lived thread of its own — as at process exit, when usage
//! records go up after the main thread's tokio state is gone.

use std::future::Future;
use std::io;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle, Runtime};

fn runtime() -> io::Result<&'static Runtime> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("memo-store")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| io::Error::other(format!("cannot start memo's store runtime: {e}")))
}

/// Runs `future` to completion on memo's runtime, from any thread.
pub(crate) fn block_on<F>(future: F) -> io::Result<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let runtime = runtime()?;
    match Handle::try_current() {
        // Inside a runtime, or at exit (this thread's tokio state is gone
        // already): wait on a thread of our own.
        Ok(_) => {}
        Err(e) if e.is_thread_local_destroyed() => {}
        Err(_) => return Ok(runtime.block_on(future)),
    }
    std::thread::scope(|scope| {
        let waiter = std::thread::Builder::new()
            .name("memo-store-wait".into())
            .spawn_scoped(scope, || runtime.block_on(future))?;
        match waiter.join() {
            Ok(output) => Ok(output),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}
