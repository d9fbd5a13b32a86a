//! The exception hierarchy: one `agentbox.Error` base and a subclass per kind of
//! [`agentbox_core::Error`], each carrying the Rust message, the source chain (`.chain`) and,
//! where the error names them, `.backend` and `.workspace`.

use agentbox_core::Error as CoreError;
use agentbox_core::contract::{Problem as CoreProblem, Severity};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyList;

create_exception!(
    agentbox,
    Error,
    PyException,
    "Base class of every agentbox error. `.chain` lists the error and its causes, outermost first."
);
create_exception!(
    agentbox,
    ContractError,
    Error,
    "The contract did not validate; `.problems` lists every problem (path, line, column, message)."
);
create_exception!(
    agentbox,
    Unenforceable,
    ContractError,
    "Strict generation refused: `.fields` names the security fields the chosen targets cannot enforce."
);
create_exception!(
    agentbox,
    ImportFailed,
    Error,
    "A devcontainer.json or devfile could not be imported into a contract."
);
create_exception!(
    agentbox,
    FileError,
    Error,
    "A file on the host could not be read or written; `.path` names it."
);
create_exception!(
    agentbox,
    NotFound,
    Error,
    "The workspace does not exist (or no longer does)."
);
create_exception!(
    agentbox,
    AlreadyExists,
    Error,
    "A workspace with this name already exists."
);
create_exception!(
    agentbox,
    PermissionDenied,
    Error,
    "Credentials were rejected or lack a permission; the message names what to grant."
);
create_exception!(
    agentbox,
    PathEscapes,
    PermissionDenied,
    "A path given to a workspace lies outside the workspace root."
);
create_exception!(
    agentbox,
    Refused,
    PermissionDenied,
    "The backend refuses to run without a safety feature the caller did not waive."
);
create_exception!(
    agentbox,
    SecretMissing,
    Error,
    "A secret the contract references could not be resolved."
);
create_exception!(
    agentbox,
    Unsupported,
    Error,
    "The backend cannot do this at all."
);
create_exception!(
    agentbox,
    Timeout,
    Error,
    "An operation did not finish within its deadline."
);
create_exception!(
    agentbox,
    InvalidState,
    Error,
    "The workspace is in a state that does not allow the operation."
);
create_exception!(
    agentbox,
    WorkspaceFailed,
    Error,
    "The workspace failed to start; the backend's own message is kept."
);
create_exception!(
    agentbox,
    SessionClosed,
    Error,
    "A session can no longer run commands; open a new one."
);
create_exception!(
    agentbox,
    EvidenceError,
    Error,
    "Evidence could not be recorded."
);
create_exception!(agentbox, ModelError, Error, "The model backend failed.");
create_exception!(
    agentbox,
    BackendError,
    Error,
    "Any other backend failure (Kubernetes API, coderd, local sandbox), with its causes in `.chain`."
);

/// One problem found in a contract.
#[pyclass(module = "agentbox", frozen, get_all, eq)]
#[derive(Clone, PartialEq)]
pub struct Problem {
    /// Dotted path to the offending value, e.g. `spec.ports[1].name` (empty for the document).
    pub path: String,
    /// 1-based line of the value; 0 when unknown.
    pub line: usize,
    /// 1-based column; 0 when unknown.
    pub column: usize,
    /// What is wrong and what to write instead.
    pub message: String,
    /// `"error"` or `"warning"`.
    pub severity: &'static str,
}

impl From<&CoreProblem> for Problem {
    fn from(p: &CoreProblem) -> Self {
        Self {
            path: p.path.clone(),
            line: p.line,
            column: p.column,
            message: p.message.clone(),
            severity: match p.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            },
        }
    }
}

#[pymethods]
impl Problem {
    fn __repr__(&self) -> String {
        format!(
            "Problem(path={:?}, line={}, column={}, severity={:?}, message={:?})",
            self.path, self.line, self.column, self.severity, self.message
        )
    }

    fn __str__(&self) -> String {
        let at = if self.path.is_empty() {
            "<document>"
        } else {
            &self.path
        };
        format!(
            "{}:{}: {}: {} ({})",
            self.line, self.column, at, self.message, self.severity
        )
    }
}

/// The messages of an error and its sources, outermost first, each once.
fn chain(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut out = vec![error.to_string()];
    let mut source = error.source();
    while let Some(s) = source {
        out.push(s.to_string());
        source = s.source();
    }
    out
}

/// The exception message: the error's own text, then each cause not already quoted in it.
fn message(chain: &[String]) -> String {
    let mut text = chain[0].clone();
    for cause in &chain[1..] {
        if !text.contains(cause.as_str()) {
            text.push_str("\n  caused by: ");
            text.push_str(cause);
        }
    }
    text
}

/// Converts an agentbox error into the matching Python exception, keeping message and causes.
pub fn to_py(error: CoreError) -> PyErr {
    Python::attach(|py| match build(py, &error) {
        Ok(err) => err,
        Err(err) => err,
    })
}

/// Converts any other error (a backend crate's own, or an I/O error) into `BackendError`.
pub fn backend_error(error: &(dyn std::error::Error + 'static)) -> PyErr {
    Python::attach(|py| {
        let chain = chain(error);
        match instance::<BackendError>(py, &chain) {
            Ok(exc) => exc,
            Err(err) => err,
        }
    })
}

fn instance<T: pyo3::PyTypeInfo>(py: Python<'_>, chain: &[String]) -> PyResult<PyErr> {
    let exc = py.get_type::<T>().call1((message(chain),))?;
    exc.setattr("chain", PyList::new(py, chain)?)?;
    exc.setattr("backend", py.None())?;
    exc.setattr("workspace", py.None())?;
    Ok(PyErr::from_value(exc))
}

fn build(py: Python<'_>, error: &CoreError) -> PyResult<PyErr> {
    let chain = chain(error);
    let err = match error {
        CoreError::InvalidContract { problems, .. } => {
            let err = instance::<ContractError>(py, &chain)?;
            let list: Vec<Problem> = problems.iter().map(Problem::from).collect();
            err.value(py).setattr("problems", list)?;
            err
        }
        CoreError::Unenforceable { fields } => {
            let err = instance::<Unenforceable>(py, &chain)?;
            err.value(py).setattr("problems", PyList::empty(py))?;
            err.value(py).setattr("fields", fields.clone())?;
            err
        }
        CoreError::Import { .. } => instance::<ImportFailed>(py, &chain)?,
        CoreError::Io { path, .. } => {
            let err = instance::<FileError>(py, &chain)?;
            err.value(py).setattr("path", path.display().to_string())?;
            err
        }
        CoreError::Evidence { path, .. } => {
            let err = instance::<EvidenceError>(py, &chain)?;
            err.value(py).setattr("path", path.display().to_string())?;
            err
        }
        CoreError::NotFound { backend, workspace } => {
            located::<NotFound>(py, &chain, backend, Some(workspace))?
        }
        CoreError::AlreadyExists { backend, workspace } => {
            located::<AlreadyExists>(py, &chain, backend, Some(workspace))?
        }
        CoreError::PathEscapes { workspace, .. } => {
            let err = instance::<PathEscapes>(py, &chain)?;
            err.value(py).setattr("workspace", workspace)?;
            err
        }
        CoreError::SecretMissing { workspace, .. } => {
            let err = instance::<SecretMissing>(py, &chain)?;
            err.value(py).setattr("workspace", workspace)?;
            err
        }
        CoreError::Unsupported { backend, .. } => {
            located::<Unsupported>(py, &chain, backend, None)?
        }
        CoreError::Refused { backend, .. } => located::<Refused>(py, &chain, backend, None)?,
        CoreError::Timeout {
            backend, workspace, ..
        } => located::<Timeout>(py, &chain, backend, Some(workspace))?,
        CoreError::InvalidState {
            backend, workspace, ..
        } => located::<InvalidState>(py, &chain, backend, Some(workspace))?,
        CoreError::WorkspaceFailed {
            backend, workspace, ..
        } => located::<WorkspaceFailed>(py, &chain, backend, Some(workspace))?,
        CoreError::PermissionDenied { backend, .. } => {
            located::<PermissionDenied>(py, &chain, backend, None)?
        }
        CoreError::SessionClosed { workspace, .. } => {
            let err = instance::<SessionClosed>(py, &chain)?;
            err.value(py).setattr("workspace", workspace)?;
            err
        }
        CoreError::Model { .. } => instance::<ModelError>(py, &chain)?,
        CoreError::Backend { backend, .. } => located::<BackendError>(py, &chain, backend, None)?,
        _ => instance::<Error>(py, &chain)?,
    };
    Ok(err)
}

fn located<T: pyo3::PyTypeInfo>(
    py: Python<'_>,
    chain: &[String],
    backend: &str,
    workspace: Option<&String>,
) -> PyResult<PyErr> {
    let err = instance::<T>(py, chain)?;
    err.value(py).setattr("backend", backend)?;
    if let Some(workspace) = workspace {
        err.value(py).setattr("workspace", workspace)?;
    }
    Ok(err)
}

/// Adds the exception classes and `Problem` to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Problem>()?;
    m.add("Error", py.get_type::<Error>())?;
    m.add("ContractError", py.get_type::<ContractError>())?;
    m.add("Unenforceable", py.get_type::<Unenforceable>())?;
    m.add("ImportFailed", py.get_type::<ImportFailed>())?;
    m.add("FileError", py.get_type::<FileError>())?;
    m.add("NotFound", py.get_type::<NotFound>())?;
    m.add("AlreadyExists", py.get_type::<AlreadyExists>())?;
    m.add("PermissionDenied", py.get_type::<PermissionDenied>())?;
    m.add("PathEscapes", py.get_type::<PathEscapes>())?;
    m.add("Refused", py.get_type::<Refused>())?;
    m.add("SecretMissing", py.get_type::<SecretMissing>())?;
    m.add("Unsupported", py.get_type::<Unsupported>())?;
    m.add("Timeout", py.get_type::<Timeout>())?;
    m.add("InvalidState", py.get_type::<InvalidState>())?;
    m.add("WorkspaceFailed", py.get_type::<WorkspaceFailed>())?;
    m.add("SessionClosed", py.get_type::<SessionClosed>())?;
    m.add("EvidenceError", py.get_type::<EvidenceError>())?;
    m.add("ModelError", py.get_type::<ModelError>())?;
    m.add("BackendError", py.get_type::<BackendError>())?;
    Ok(())
}
