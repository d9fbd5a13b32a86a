//! What generation reports back to Python: target names, drifted files and the
//! enforceability report of one target.

use agentbox_core::generate::{
    Coverage, DriftKind, Entry, FileDrift, Report, Target, TargetReport,
};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyString;

/// The targets a Python argument names: `None` (every target), one name, or a sequence of names.
pub(super) fn targets(arg: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<Target>> {
    let names: Vec<String> = match arg {
        None => return Ok(vec![Target::All]),
        Some(arg) if arg.is_instance_of::<PyString>() => vec![arg.extract()?],
        Some(arg) => arg.extract().map_err(|_| {
            let given = arg
                .get_type()
                .name()
                .map_or_else(|_| "?".to_owned(), |n| n.to_string());
            PyTypeError::new_err(format!(
                "targets must be a target name or a list of them (all, devcontainer, devfile, devworkspace, networkpolicy, agents), not {given}"
            ))
        })?,
    };
    names.iter().map(|name| parse(name)).collect()
}

/// One concrete target (an enforceability report is per target, so not `all`).
pub(super) fn one_target(name: &str) -> PyResult<Target> {
    match parse(name)? {
        Target::All => Err(PyValueError::new_err(format!(
            "enforceability is reported per target, not for `all`: name one of {}",
            Target::EACH.map(Target::name).join(", ")
        ))),
        target => Ok(target),
    }
}

fn parse(name: &str) -> PyResult<Target> {
    name.parse::<Target>()
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// One generated file that is not what `generate` would write.
#[pyclass(module = "agentbox", frozen, get_all, eq)]
#[derive(Clone, PartialEq)]
pub struct Drift {
    /// Path relative to the output directory, with `/` separators.
    pub path: String,
    /// `"missing"` (the file does not exist) or `"changed"` (it has other content).
    pub kind: &'static str,
    /// A unified diff from the file on disk (`/dev/null` when missing) to the expected file.
    pub diff: String,
}

impl From<FileDrift> for Drift {
    fn from(file: FileDrift) -> Self {
        Self {
            path: file.path,
            kind: match file.kind {
                DriftKind::Missing => "missing",
                DriftKind::Changed => "changed",
            },
            diff: file.diff,
        }
    }
}

#[pymethods]
impl Drift {
    fn __repr__(&self) -> String {
        format!("Drift(path={:?}, kind={:?})", self.path, self.kind)
    }

    /// The unified diff.
    fn __str__(&self) -> String {
        self.diff.clone()
    }
}

/// How one target's file carries one contract field.
#[pyclass(module = "agentbox", frozen, get_all, eq)]
#[derive(Clone, PartialEq)]
pub struct FieldCoverage {
    /// The field's path in the contract, e.g. `spec.network.egress.allow[1]`.
    pub field: String,
    /// True for fields that protect something (isolation, egress, secrets, limits, permissions).
    pub security: bool,
    /// `"represented"`, `"partial"`, `"not_represented"` or `"delegated"`.
    pub coverage: &'static str,
    /// Where and how the file expresses the field (represented or partial), else `None`.
    pub how: Option<String>,
    /// What a partial representation loses, and where to make up for it; else `None`.
    pub missing: Option<String>,
    /// Why the file does not carry the field (not represented or delegated), else `None`.
    pub why: Option<String>,
    /// The target whose file carries the field instead (delegated), else `None`.
    pub delegated_to: Option<&'static str>,
}

impl From<&Entry> for FieldCoverage {
    fn from(entry: &Entry) -> Self {
        let base = Self {
            field: entry.field.clone(),
            security: entry.security,
            coverage: "",
            how: None,
            missing: None,
            why: None,
            delegated_to: None,
        };
        match &entry.coverage {
            Coverage::Represented { how } => Self {
                coverage: "represented",
                how: Some(how.clone()),
                ..base
            },
            Coverage::Partial { how, missing } => Self {
                coverage: "partial",
                how: Some(how.clone()),
                missing: Some(missing.clone()),
                ..base
            },
            Coverage::NotRepresented { why } => Self {
                coverage: "not_represented",
                why: Some(why.clone()),
                ..base
            },
            Coverage::Delegated { to, why } => Self {
                coverage: "delegated",
                why: Some(why.clone()),
                delegated_to: Some(to.name()),
                ..base
            },
        }
    }
}

#[pymethods]
impl FieldCoverage {
    /// True when the file expresses the field fully.
    #[getter]
    fn represented(&self) -> bool {
        self.coverage == "represented"
    }

    fn __repr__(&self) -> String {
        format!(
            "FieldCoverage(field={:?}, coverage={:?}, security={})",
            self.field,
            self.coverage,
            if self.security { "True" } else { "False" }
        )
    }
}

/// The enforceability report of one target: every field the contract sets, with how the
/// target's file carries it. `str()` gives the report as `agentbox generate` prints it.
#[pyclass(module = "agentbox", frozen)]
pub struct Enforceability {
    /// The target's report.
    inner: TargetReport,
    /// The report as text.
    text: String,
}

impl Enforceability {
    /// The report of `target` out of a generation that included it.
    pub(super) fn new(target: Target, report: Report) -> PyResult<Self> {
        let Some(inner) = report.targets.into_iter().find(|r| r.target == target) else {
            return Err(PyRuntimeError::new_err(format!(
                "agentbox generated no enforceability report for target `{target}`; please report this"
            )));
        };
        let text = Report {
            targets: vec![inner.clone()],
        }
        .to_string();
        Ok(Self { inner, text })
    }
}

#[pymethods]
impl Enforceability {
    /// The target's name.
    #[getter]
    fn target(&self) -> &'static str {
        self.inner.target.name()
    }

    /// The target's file, relative to the output directory.
    #[getter]
    fn path(&self) -> &'static str {
        self.inner.target.path().unwrap_or_default()
    }

    /// One entry per field the contract sets, in contract order.
    #[getter]
    fn entries(&self) -> Vec<FieldCoverage> {
        self.inner.entries.iter().map(FieldCoverage::from).collect()
    }

    /// Remarks about the file as a whole.
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.inner.notes.clone()
    }

    /// The entry for `field` (a contract path such as `spec.isolation`), or `None` when the
    /// contract does not set it.
    fn entry(&self, field: &str) -> Option<FieldCoverage> {
        self.inner.entry(field).map(FieldCoverage::from)
    }

    fn __repr__(&self) -> String {
        format!(
            "Enforceability(target={:?}, entries={}, notes={})",
            self.target(),
            self.inner.entries.len(),
            self.inner.notes.len()
        )
    }

    fn __str__(&self) -> String {
        self.text.clone()
    }
}
