//! `Session`: a persistent shell in a workspace, as an async context manager.

use std::sync::Arc;

use agentbox_core::Error as CoreError;
use agentbox_core::exec::Session as CoreSession;
use pyo3::prelude::*;

use super::Handle;
use super::exec::{Command, ExecResult, session_command};
use crate::repr::py_repr;

/// Where a session is.
enum State {
    /// Not opened yet: the shell starts on entry or on the first `run`.
    Unopened,
    /// The shell runs.
    Open(Box<dyn CoreSession>),
    /// Closed by `close()` or the end of the `async with` block.
    Closed,
}

/// The open shell, opening it first if needed.
async fn open<'s>(
    handle: &Handle,
    state: &'s mut State,
) -> agentbox_core::Result<&'s mut Box<dyn CoreSession>> {
    if let State::Unopened = state {
        let executor = handle.executor().await?;
        *state = State::Open(executor.session().await?);
    }
    match state {
        State::Open(session) => Ok(session),
        _ => Err(CoreError::SessionClosed {
            workspace: handle.id().to_owned(),
            reason: "it was closed by the caller".to_owned(),
        }),
    }
}

/// A persistent shell in a workspace: each `run` sees the directory and the exported
/// variables the previous ones left. Use it as `async with ws.session() as session:`; the shell
/// opens on entry (or on the first `run`) and closes on exit (or with `close()`).
#[pyclass(module = "agentbox", frozen)]
pub struct Session {
    handle: Arc<Handle>,
    state: Arc<tokio::sync::Mutex<State>>,
}

impl Session {
    /// An unopened session in the workspace of `handle`.
    pub(crate) fn new(handle: Arc<Handle>) -> Self {
        Self {
            handle,
            state: Arc::new(tokio::sync::Mutex::new(State::Unopened)),
        }
    }
}

#[pymethods]
impl Session {
    fn __aenter__<'py>(slf: Py<Self>, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let handle = Arc::clone(&slf.get().handle);
        let state = Arc::clone(&slf.get().state);
        crate::runtime::py_future(py, async move {
            let mut state = state.lock().await;
            open(&handle, &mut state)
                .await
                .map_err(crate::errors::to_py)?;
            Ok(slf)
        })
    }

    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        _exc_type: Option<Bound<'py, PyAny>>,
        _exc: Option<Bound<'py, PyAny>>,
        _traceback: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.close(py)
    }

    /// Run one command and return its own `ExecResult`. `command` is an argv list (every
    /// argument quoted, nothing interpreted) or shell text (`"cd src"`, `"export A=1"`).
    /// Commands do not read stdin. When `timeout` seconds pass, the shell is killed and later
    /// runs raise `SessionClosed`.
    #[pyo3(signature = (command, timeout = None, *, output_limit = None))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        command: Command,
        timeout: Option<f64>,
        output_limit: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let command = session_command(command, timeout, output_limit)?;
        let handle = Arc::clone(&self.handle);
        let state = Arc::clone(&self.state);
        crate::runtime::future(py, async move {
            let mut state = state.lock().await;
            let session = open(&handle, &mut state).await?;
            session.run(&command).await.map(ExecResult::from)
        })
    }

    /// End the shell. Closing a closed session does nothing.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let state = Arc::clone(&self.state);
        crate::runtime::future(py, async move {
            let previous = std::mem::replace(&mut *state.lock().await, State::Closed);
            match previous {
                State::Open(session) => session.close().await,
                State::Unopened | State::Closed => Ok(()),
            }
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let state = match self.state.try_lock().as_deref() {
            Ok(State::Unopened) => "unopened",
            Ok(State::Open(_)) => "open",
            Ok(State::Closed) => "closed",
            Err(_) => "busy",
        };
        Ok(format!(
            "Session(workspace={}, {state})",
            py_repr(py, self.handle.id())?
        ))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // A session left open is closed in the background rather than killed mid-write.
        if let Ok(mut state) = self.state.try_lock()
            && let State::Open(session) = std::mem::replace(&mut *state, State::Closed)
        {
            crate::runtime::handle().spawn(async move {
                if let Err(e) = session.close().await {
                    tracing::debug!(error = %e, "closing an abandoned session failed");
                }
            });
        }
    }
}
