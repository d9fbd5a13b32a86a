//! `Workspace` and what it hands out: `ExecResult`, `ExecStream`/`ExecChunk`, `Session`,
//! `WorkspaceInfo`, `Capabilities`, `Project`, `FileWritten`.

mod exec;
mod info;
mod session;
mod stream;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::repr::py_repr;
use agentbox_core::exec::ExecutorExt;
use agentbox_core::provider::WorkspaceId;
use agentbox_core::{Executor, WorkspaceProvider};
use pyo3::prelude::*;

pub use exec::ExecResult;
use exec::{Data, ExecArgs, seconds};
pub use info::{Capabilities, FileWritten, Project, WorkspaceInfo};
pub use session::Session;
pub use stream::{ExecChunk, ExecStream};

/// One workspace of one provider, shared by the `Workspace` object and whatever it handed out
/// (streams, sessions, pending calls).
#[derive(Debug)]
pub(crate) struct Handle {
    provider: Arc<dyn WorkspaceProvider>,
    id: WorkspaceId,
    name: String,
    /// The executor, made on first need and forgotten on every lifecycle change (a stopped
    /// workspace's executor may point at a pod or an agent that is gone).
    executor: tokio::sync::Mutex<Option<Arc<dyn Executor>>>,
}

impl Handle {
    /// The cached executor, or a new one from the provider.
    async fn executor(&self) -> agentbox_core::Result<Arc<dyn Executor>> {
        let mut cached = self.executor.lock().await;
        if let Some(executor) = cached.as_ref() {
            return Ok(Arc::clone(executor));
        }
        let executor = self.provider.executor(&self.id).await?;
        *cached = Some(Arc::clone(&executor));
        Ok(executor)
    }

    /// Drop the cached executor; the next command asks the provider for a new one.
    async fn forget_executor(&self) {
        *self.executor.lock().await = None;
    }

    fn id(&self) -> &str {
        self.id.as_str()
    }
}

/// A workspace: its lifecycle, commands and files. Made by `Provider.create` or `Provider.get`.
///
/// The executor that runs commands is made on first use and reused; it is renewed after
/// `start`, `stop`, `resume` and `delete`.
#[pyclass(module = "agentbox", frozen)]
pub struct Workspace {
    inner: Arc<Handle>,
}

impl Workspace {
    /// A handle to workspace `id`, named `name`, of `provider`.
    pub(crate) fn new(provider: Arc<dyn WorkspaceProvider>, id: WorkspaceId, name: String) -> Self {
        Self {
            inner: Arc::new(Handle {
                provider,
                id,
                name,
                executor: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// Run a lifecycle call, then forget the executor.
    fn lifecycle<'py, F, Fut>(&self, py: Python<'py>, call: F) -> PyResult<Bound<'py, PyAny>>
    where
        F: FnOnce(Arc<Handle>) -> Fut + Send + 'static,
        Fut: Future<Output = agentbox_core::Result<()>> + Send + 'static,
    {
        let handle = Arc::clone(&self.inner);
        crate::runtime::future(py, async move {
            let result = call(Arc::clone(&handle)).await;
            handle.forget_executor().await;
            result
        })
    }
}

#[pymethods]
impl Workspace {
    /// The backend-assigned id.
    #[getter]
    fn id(&self) -> &str {
        self.inner.id()
    }

    /// The human-readable name.
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// The backend: `"local"`, `"che"` or `"coder"`.
    #[getter]
    fn backend(&self) -> &'static str {
        self.inner.provider.backend()
    }

    /// Start the workspace (starting a running one does nothing). Wait with `wait_ready`.
    fn start<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.lifecycle(py, |h| async move { h.provider.start(&h.id).await })
    }

    /// Stop (suspend) the workspace; its files are kept when the backend can
    /// (`Capabilities.suspend_keeps_storage`).
    fn stop<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.lifecycle(py, |h| async move { h.provider.stop(&h.id).await })
    }

    /// Resume a stopped workspace. Wait with `wait_ready`.
    fn resume<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.lifecycle(py, |h| async move { h.provider.resume(&h.id).await })
    }

    /// Delete the workspace and its storage; deleting one that is already gone succeeds.
    fn delete<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.lifecycle(py, |h| async move { h.provider.delete(&h.id).await })
    }

    /// The workspace's current state.
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let h = Arc::clone(&self.inner);
        crate::runtime::future(py, async move {
            h.provider.status(&h.id).await.map(WorkspaceInfo::from)
        })
    }

    /// Wait until the workspace is ready for commands; raises `Timeout` after `timeout`
    /// seconds, or `WorkspaceFailed` with the backend's message.
    fn wait_ready<'py>(&self, py: Python<'py>, timeout: f64) -> PyResult<Bound<'py, PyAny>> {
        let timeout = seconds("timeout", timeout)?;
        let h = Arc::clone(&self.inner);
        crate::runtime::future(py, async move {
            h.provider
                .wait_ready(&h.id, timeout)
                .await
                .map(WorkspaceInfo::from)
        })
    }

    /// Run `argv` (a list: never a shell string) to completion and return its `ExecResult`.
    ///
    /// `env` adds variables; `secret_env` adds variables whose values are secrets (kept out
    /// of logs and evidence); `cwd` is absolute or relative to the workdir; `stdin` (bytes or
    /// str) is fed to the command, then closed. After `timeout` seconds the command's whole
    /// process tree is killed and the result has `timed_out=True`. At most `output_limit`
    /// bytes (default 4 MiB) of each stream are kept; `truncated` says whether more came.
    #[pyo3(signature = (argv, env = None, cwd = None, stdin = None, timeout = None, *, secret_env = None, output_limit = None))]
    #[allow(clippy::too_many_arguments)]
    fn exec<'py>(
        &self,
        py: Python<'py>,
        argv: Vec<String>,
        env: Option<BTreeMap<String, String>>,
        cwd: Option<String>,
        stdin: Option<Data>,
        timeout: Option<f64>,
        secret_env: Option<BTreeMap<String, String>>,
        output_limit: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = ExecArgs {
            argv,
            env,
            secret_env,
            cwd,
            stdin,
            timeout,
            output_limit,
        }
        .into_request()?;
        let h = Arc::clone(&self.inner);
        crate::runtime::future(py, async move {
            let executor = h.executor().await?;
            executor.exec(request).await.map(ExecResult::from)
        })
    }

    /// Run `argv` and stream its output: `async for chunk in ws.exec_stream([...])` yields
    /// `ExecChunk`s as they come; afterwards the stream's `exit_code` (or `timed_out`, `signal`)
    /// says how it ended. The command starts on the first iteration; closing the stream
    /// (`aclose()`) or dropping it kills the command. Arguments as for `exec`.
    #[pyo3(signature = (argv, env = None, cwd = None, stdin = None, timeout = None, *, secret_env = None))]
    #[allow(clippy::too_many_arguments)]
    fn exec_stream(
        &self,
        argv: Vec<String>,
        env: Option<BTreeMap<String, String>>,
        cwd: Option<String>,
        stdin: Option<Data>,
        timeout: Option<f64>,
        secret_env: Option<BTreeMap<String, String>>,
    ) -> PyResult<ExecStream> {
        let request = ExecArgs {
            argv,
            env,
            secret_env,
            cwd,
            stdin,
            timeout,
            output_limit: None,
        }
        .into_request()?;
        Ok(ExecStream::new(Arc::clone(&self.inner), request))
    }

    /// Write `data` (bytes, or str as UTF-8) to `path` in the workspace (relative paths are
    /// taken from the workdir), creating parent directories. Raises `PathEscapes` for a path
    /// outside the workspace.
    fn write_file<'py>(
        &self,
        py: Python<'py>,
        path: String,
        data: Data,
    ) -> PyResult<Bound<'py, PyAny>> {
        let data = data.into_bytes();
        let h = Arc::clone(&self.inner);
        crate::runtime::future(py, async move {
            let executor = h.executor().await?;
            executor
                .write_bytes(&path, data)
                .await
                .map(FileWritten::from)
        })
    }

    /// The content of the file at `path` in the workspace, as bytes. Raises `PathEscapes` for
    /// a path outside the workspace.
    fn read_file<'py>(&self, py: Python<'py>, path: String) -> PyResult<Bound<'py, PyAny>> {
        let h = Arc::clone(&self.inner);
        crate::runtime::future(py, async move {
            let executor = h.executor().await?;
            executor.read_bytes(&path).await
        })
    }

    /// A persistent shell: `async with ws.session() as s: await s.run(["cd", "src"])`. The
    /// shell opens on entry (or on the first `run`) and closes on exit.
    fn session(&self) -> Session {
        Session::new(Arc::clone(&self.inner))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Workspace(id={}, name={}, backend={})",
            py_repr(py, self.inner.id())?,
            py_repr(py, &self.inner.name)?,
            py_repr(py, self.inner.provider.backend())?
        ))
    }
}

/// Adds the workspace classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Workspace>()?;
    m.add_class::<WorkspaceInfo>()?;
    m.add_class::<Capabilities>()?;
    m.add_class::<Project>()?;
    m.add_class::<FileWritten>()?;
    m.add_class::<ExecResult>()?;
    m.add_class::<ExecStream>()?;
    m.add_class::<ExecChunk>()?;
    m.add_class::<Session>()?;
    Ok(())
}
