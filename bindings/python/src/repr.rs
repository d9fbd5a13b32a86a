//! `__repr__` helpers shared by every class.

use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;

/// Python's `repr` of `value`: strings with Python's quotes and escapes, `None` for a missing
/// one. Every `__repr__` is built from these, and none is given a secret.
pub(crate) fn py_repr<'py, T>(py: Python<'py>, value: T) -> PyResult<String>
where
    T: IntoPyObject<'py>,
{
    Ok(value.into_bound_py_any(py)?.repr()?.to_string())
}
