//! The one tokio runtime every Python call shares, and the bridge from Rust futures to asyncio
//! awaitables (through `pyo3-async-runtimes`). The GIL is not held while a future runs: the
//! future is polled on the runtime's worker threads and only attaches to the interpreter to hand
//! over its result.

use std::future::Future;

use pyo3::prelude::*;

/// Turns a future returning an agentbox result into a Python awaitable; errors become the
/// matching `agentbox` exceptions.
pub fn future<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = Result<T, agentbox_core::Error>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    pyo3_async_runtimes::tokio::future_into_py(py, async move {
        fut.await.map_err(crate::errors::to_py)
    })
}

/// Like [`future`], for futures that already produce Python errors.
pub fn py_future<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    pyo3_async_runtimes::tokio::future_into_py(py, fut)
}

/// The shared runtime, for work that must be spawned outside an awaitable (e.g. dropping a
/// session that was never closed).
pub fn handle() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// Runs a future to completion on the shared runtime with the GIL released, for the few
/// synchronous entry points (constructors that must read a kubeconfig, for example).
pub fn block_on<F, T>(py: Python<'_>, fut: F) -> T
where
    F: Future<Output = T> + Send,
    T: Send,
{
    py.detach(|| handle().block_on(fut))
}
