//! `ExecStream` (an async iterator of `ExecChunk`s) for `Workspace.exec_stream`.

use std::sync::{Arc, Mutex, PoisonError};

use agentbox_core::exec::{ExecChunk as CoreChunk, ExecRequest, ExitStatus, OutputStreams};
use bytes::Bytes;
use futures::StreamExt;
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;

use super::Handle;
use super::exec::signal;
use crate::repr::py_repr;

/// One piece of a streaming command's output.
#[pyclass(module = "agentbox", frozen)]
#[derive(Clone)]
pub struct ExecChunk {
    stream: &'static str,
    data: Bytes,
}

#[pymethods]
impl ExecChunk {
    /// `"stdout"`, `"stderr"`, or `"combined"` when the backend cannot keep them apart (a PTY).
    #[getter]
    fn stream(&self) -> &'static str {
        self.stream
    }

    /// The bytes.
    #[getter]
    fn data(&self) -> &[u8] {
        &self.data
    }

    fn __repr__(&self) -> String {
        format!(
            "ExecChunk(stream='{}', {} bytes)",
            self.stream,
            self.data.len()
        )
    }
}

/// Where a stream is.
enum State {
    /// Not started: the command runs on the first `__anext__`.
    Pending(Arc<Handle>, Box<ExecRequest>),
    /// Running.
    Running(agentbox_core::exec::ExecStream, OutputStreams),
    /// Ended, failed or closed.
    Done,
}

/// The output of `Workspace.exec_stream`: an async iterator of `ExecChunk`s. Once iteration
/// ends, `exit_code`, `signal` and `timed_out` say how the command ended. Closing it
/// (`await stream.aclose()`) or dropping it before the end kills the command.
#[pyclass(module = "agentbox", frozen)]
pub struct ExecStream {
    workspace: String,
    state: Arc<tokio::sync::Mutex<State>>,
    exit: Arc<Mutex<Option<ExitStatus>>>,
}

impl ExecStream {
    /// A stream that will run `request` in the workspace of `handle`.
    pub(crate) fn new(handle: Arc<Handle>, request: ExecRequest) -> Self {
        Self {
            workspace: handle.id().to_owned(),
            state: Arc::new(tokio::sync::Mutex::new(State::Pending(
                handle,
                Box::new(request),
            ))),
            exit: Arc::new(Mutex::new(None)),
        }
    }

    fn exit(&self) -> Option<ExitStatus> {
        *self.exit.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The next chunk, starting the command first if needed; `None` at the end.
async fn next(
    state: &mut State,
    exit: &Mutex<Option<ExitStatus>>,
) -> agentbox_core::Result<Option<ExecChunk>> {
    if let State::Pending(handle, request) = state {
        let executor = handle.executor().await;
        let started = match executor {
            Ok(executor) => {
                let streams = executor.output_streams();
                executor
                    .exec_stream((**request).clone())
                    .await
                    .map(|s| (s, streams))
            }
            Err(e) => Err(e),
        };
        match started {
            Ok((stream, streams)) => *state = State::Running(stream, streams),
            Err(e) => {
                *state = State::Done;
                return Err(e);
            }
        }
    }
    let State::Running(stream, streams) = state else {
        return Ok(None);
    };
    let stdout = match streams {
        OutputStreams::Separate => "stdout",
        OutputStreams::Combined => "combined",
    };
    let chunk = match stream.next().await {
        Some(Ok(CoreChunk::Stdout(data))) => {
            return Ok(Some(ExecChunk {
                stream: stdout,
                data,
            }));
        }
        Some(Ok(CoreChunk::Stderr(data))) => {
            return Ok(Some(ExecChunk {
                stream: "stderr",
                data,
            }));
        }
        Some(Ok(CoreChunk::Exit(status))) => Ok(status),
        // A stream that ends without its exit chunk lost track of the command.
        None => Ok(ExitStatus::Unknown),
        Some(Err(e)) => Err(e),
    };
    *state = State::Done;
    let status = chunk?;
    *exit.lock().unwrap_or_else(PoisonError::into_inner) = Some(status);
    Ok(None)
}

#[pymethods]
impl ExecStream {
    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let state = Arc::clone(&self.state);
        let exit = Arc::clone(&self.exit);
        crate::runtime::py_future(py, async move {
            let mut state = state.lock().await;
            match next(&mut state, &exit).await {
                Ok(Some(chunk)) => Ok(chunk),
                Ok(None) => Err(PyStopAsyncIteration::new_err(())),
                Err(e) => Err(crate::errors::to_py(e)),
            }
        })
    }

    /// Stop reading: a command still running is killed. Iterating afterwards ends at once.
    fn aclose<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let state = Arc::clone(&self.state);
        crate::runtime::py_future(py, async move {
            let finished = std::mem::replace(&mut *state.lock().await, State::Done);
            drop(finished);
            Ok(())
        })
    }

    /// The exit code, once the command exited normally; `None` before the end, after a
    /// signal or a timeout.
    #[getter]
    fn exit_code(&self) -> Option<i32> {
        self.exit().and_then(|e| e.code())
    }

    /// The signal that ended the command, if one did.
    #[getter]
    fn signal(&self) -> Option<i32> {
        self.exit().and_then(signal)
    }

    /// Whether the command's timeout passed and it was killed.
    #[getter]
    fn timed_out(&self) -> bool {
        self.exit() == Some(ExitStatus::TimedOut)
    }

    /// Whether the end of the command was seen (its exit, or that it was lost).
    #[getter]
    fn finished(&self) -> bool {
        self.exit().is_some()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let state = match (self.exit(), self.state.try_lock().as_deref()) {
            (Some(exit), _) => exit.to_string(),
            (None, Ok(State::Pending(..))) => "not started".to_owned(),
            (None, Ok(State::Done)) => "closed".to_owned(),
            (None, _) => "running".to_owned(),
        };
        Ok(format!(
            "ExecStream(workspace={}, {state})",
            py_repr(py, &self.workspace)?
        ))
    }
}

impl Drop for ExecStream {
    fn drop(&mut self) {
        // The command's stream kills it when dropped; do that on the runtime it belongs to.
        let _runtime = crate::runtime::handle().enter();
        if let Ok(mut state) = self.state.try_lock() {
            *state = State::Done;
        }
    }
}
