//! The one small tokio runtime that drives every store's I/O.

use std::future::Future;
use std::sync::OnceLock;

/// The runtime: the executors' task threads block on it, so it only needs
/// threads for the network and `spawn_blocking` file work.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("shoal-store-io")
            .enable_all()
            .build()
            .expect("cannot start the storage I/O runtime")
    })
}

/// Runs `future` to completion on the storage runtime, blocking the
/// calling (non-async) thread.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    runtime().block_on(future)
}
