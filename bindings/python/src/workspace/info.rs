//! Plain records handed to Python: `WorkspaceInfo`, `Capabilities`, `Project`, `FileWritten`.

use std::collections::BTreeMap;

use agentbox_core::exec::FileWritten as CoreFileWritten;
use agentbox_core::provider::{
    Capabilities as CoreCapabilities, Project as CoreProject, WorkspaceInfo as CoreInfo,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::repr::py_repr;

/// What a provider knows about one workspace, as of the call that returned it.
#[pyclass(module = "agentbox", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct WorkspaceInfo {
    /// The backend-assigned id (a directory name, a DevWorkspace name, a Coder UUID).
    #[pyo3(get)]
    pub id: String,
    /// The human-readable name.
    #[pyo3(get)]
    pub name: String,
    /// The backend: `"local"`, `"che"` or `"coder"`.
    #[pyo3(get)]
    pub backend: String,
    /// `"pending"`, `"starting"`, `"running"`, `"stopping"`, `"stopped"`, `"failed"` or
    /// `"terminating"`.
    #[pyo3(get)]
    pub phase: String,
    /// The backend's message about the phase (why it failed, what it waits for).
    #[pyo3(get)]
    pub message: Option<String>,
    /// Labels, including agentbox's own.
    #[pyo3(get)]
    pub labels: BTreeMap<String, String>,
    /// The hash of the contract the workspace was made from.
    #[pyo3(get)]
    pub contract_hash: String,
    /// Creation time, microseconds since the Unix epoch (UTC).
    created_micros: i64,
}

impl From<CoreInfo> for WorkspaceInfo {
    fn from(info: CoreInfo) -> Self {
        Self {
            id: info.id.0,
            name: info.name,
            backend: info.backend,
            phase: info.phase.to_string(),
            message: info.message,
            labels: info.labels,
            contract_hash: info.contract_hash,
            created_micros: info.created_at.timestamp_micros(),
        }
    }
}

#[pymethods]
impl WorkspaceInfo {
    /// When the workspace was created, as an aware `datetime` in UTC.
    #[getter]
    fn created_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let datetime = py.import("datetime")?;
        let utc = datetime.getattr("timezone")?.getattr("utc")?;
        let epoch = datetime
            .getattr("datetime")?
            .call((1970, 1, 1, 0, 0, 0, 0, utc), None)?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("microseconds", self.created_micros)?;
        let offset = datetime.getattr("timedelta")?.call((), Some(&kwargs))?;
        epoch.add(offset)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "WorkspaceInfo(id={}, name={}, backend={}, phase={}, message={})",
            py_repr(py, &self.id)?,
            py_repr(py, &self.name)?,
            py_repr(py, &self.backend)?,
            py_repr(py, &self.phase)?,
            py_repr(py, &self.message)?
        ))
    }
}

/// What a backend can do.
#[pyclass(module = "agentbox", frozen, get_all, eq)]
#[derive(Clone, PartialEq)]
pub struct Capabilities {
    /// stdout and stderr arrive separately (false over a PTY, where both come as `"combined"`).
    pub separate_streams: bool,
    /// One long-lived shell can run many commands (`Workspace.session()`).
    pub persistent_session: bool,
    /// `stop` keeps the workspace's files for `resume`.
    pub suspend_keeps_storage: bool,
    /// Readiness is pushed by the backend rather than polled.
    pub watch: bool,
    /// Commands run isolated from the host (a sandbox, a container or a VM).
    pub isolated: bool,
    /// Egress can be limited per rule (not merely all-or-nothing).
    pub egress_rules: bool,
}

impl From<CoreCapabilities> for Capabilities {
    fn from(c: CoreCapabilities) -> Self {
        Self {
            separate_streams: c.separate_streams,
            persistent_session: c.persistent_session,
            suspend_keeps_storage: c.suspend_keeps_storage,
            watch: c.watch,
            isolated: c.isolated,
            egress_rules: c.egress_rules,
        }
    }
}

#[pymethods]
impl Capabilities {
    fn __repr__(&self) -> String {
        let py_bool = |b: bool| if b { "True" } else { "False" };
        format!(
            "Capabilities(separate_streams={}, persistent_session={}, suspend_keeps_storage={}, \
             watch={}, isolated={}, egress_rules={})",
            py_bool(self.separate_streams),
            py_bool(self.persistent_session),
            py_bool(self.suspend_keeps_storage),
            py_bool(self.watch),
            py_bool(self.isolated),
            py_bool(self.egress_rules),
        )
    }
}

/// A git repository to clone into a new workspace's workdir (`Provider.create(project=...)`).
///
/// A repository to clone, at `revision` (the remote's default branch when `None`).
#[pyclass(module = "agentbox", frozen, get_all, eq)]
#[derive(Clone, PartialEq)]
pub struct Project {
    /// The clone URL. Never put credentials in it: they come from the contract's secrets.
    pub url: String,
    /// The branch, tag or commit to check out; the remote's default when `None`.
    pub revision: Option<String>,
}

#[pymethods]
impl Project {
    #[new]
    #[pyo3(signature = (url, revision = None))]
    fn new(url: String, revision: Option<String>) -> Self {
        Self { url, revision }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Project(url={}, revision={})",
            py_repr(py, &self.url)?,
            py_repr(py, &self.revision)?
        ))
    }
}

impl From<&Project> for CoreProject {
    fn from(p: &Project) -> Self {
        CoreProject {
            url: p.url.clone(),
            revision: p.revision.clone(),
        }
    }
}

/// A file written into a workspace by `Workspace.write_file`.
#[pyclass(module = "agentbox", frozen, get_all, eq)]
#[derive(Clone, PartialEq)]
pub struct FileWritten {
    /// The absolute path inside the workspace.
    pub path: String,
    /// How many bytes were written.
    pub size: u64,
    /// The SHA-256 of the content, hex.
    pub sha256: String,
}

impl From<CoreFileWritten> for FileWritten {
    fn from(f: CoreFileWritten) -> Self {
        Self {
            path: f.path,
            size: f.bytes,
            sha256: f.sha256,
        }
    }
}

#[pymethods]
impl FileWritten {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "FileWritten(path={}, size={}, sha256={})",
            py_repr(py, &self.path)?,
            self.size,
            py_repr(py, &self.sha256)?
        ))
    }
}
