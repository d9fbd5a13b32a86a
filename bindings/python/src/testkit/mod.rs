//! `agentbox.testkit`-facing fakes (feature `testkit`): start the test kit's protocol-faithful
//! servers from Python, on the shared runtime, to test orchestrators without a cluster.

mod cluster;
mod coderd;
mod model_server;

use std::sync::{Mutex, MutexGuard, PoisonError};

use pyo3::prelude::*;

use crate::runtime;

/// A fake server while it runs, held by its Python object: `close` takes it out once, and
/// whatever is left when the object goes is dropped inside the shared runtime, to which the
/// server's tasks belong.
pub(crate) struct Running<T>(Mutex<Option<T>>);

impl<T> Running<T> {
    /// Hold a started server.
    pub(crate) fn new(server: T) -> Self {
        Self(Mutex::new(Some(server)))
    }

    fn lock(&self) -> MutexGuard<'_, Option<T>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Take the server out; `None` once closed.
    pub(crate) fn take(&self) -> Option<T> {
        self.lock().take()
    }

    /// Call `f` on the server; `None` once closed.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        self.lock().as_ref().map(f)
    }

    /// `"running"` or `"closed"`, for a `__repr__`.
    pub(crate) fn state(&self) -> &'static str {
        if self.lock().is_some() {
            "running"
        } else {
            "closed"
        }
    }

    /// Take the server out and drop it inside the shared runtime (stopping its tasks).
    pub(crate) fn drop_now(&self) {
        let _runtime = runtime::handle().enter();
        drop(self.take());
    }
}

impl<T> Drop for Running<T> {
    fn drop(&mut self) {
        self.drop_now();
    }
}

/// Adds the fake servers to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    cluster::register(m)?;
    coderd::register(m)?;
    model_server::register(m)?;
    Ok(())
}
