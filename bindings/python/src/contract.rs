//! `agentbox.Contract`: load, validate, generate, check, import.
//!
//! Every method calls `agentbox_core` as it is: loading and validation in
//! [`agentbox_core::Contract`], generation, drift and the enforceability report in
//! [`agentbox_core::generate`], imports in [`agentbox_core::generate::import`]. Work that reads
//! or writes files (or only computes) runs with the GIL released.

mod generated;
mod imported;

use std::collections::BTreeMap;
use std::path::PathBuf;

use agentbox_core::contract::LoadOptions;
use agentbox_core::generate::{self, GenerateOptions};
use pyo3::prelude::*;

use crate::errors::{Problem, to_py};
pub use generated::{Drift, Enforceability, FieldCoverage};
pub use imported::{Imported, Unmapped};

/// An environment contract, validated.
///
/// Build one with `Contract.load(path)`, `Contract.from_yaml(text)` or an import; a contract
/// with an error is never returned: `agentbox.ContractError` lists every problem instead.
#[pyclass(module = "agentbox", frozen)]
pub struct Contract {
    /// The validated contract.
    pub(crate) inner: agentbox_core::Contract,
}

fn load_options(strict: bool) -> LoadOptions {
    LoadOptions { strict }
}

#[pymethods]
impl Contract {
    /// Read, parse and validate the contract file at `path`.
    ///
    /// With `strict=True`, warnings (such as an image without a digest) are errors. Raises
    /// `ContractError` (with `.problems`) when the contract is invalid and `FileError` when the
    /// file cannot be read.
    #[staticmethod]
    #[pyo3(signature = (path, *, strict = false))]
    fn load(py: Python<'_>, path: PathBuf, strict: bool) -> PyResult<Self> {
        let inner = py
            .detach(|| agentbox_core::Contract::load(&path, &load_options(strict)))
            .map_err(to_py)?;
        Ok(Self { inner })
    }

    /// Parse and validate a contract from YAML text.
    ///
    /// With `strict=True`, warnings are errors. Raises `ContractError` (with `.problems`) when
    /// the contract is invalid.
    #[staticmethod]
    #[pyo3(signature = (text, *, strict = false))]
    fn from_yaml(py: Python<'_>, text: &str, strict: bool) -> PyResult<Self> {
        let inner = py
            .detach(|| agentbox_core::Contract::from_yaml(text, &load_options(strict)))
            .map_err(to_py)?;
        Ok(Self { inner })
    }

    /// Import a devcontainer.json (JSON with comments) as a contract.
    ///
    /// Returns an `Imported`: the validated contract and every part of the file that could not
    /// be mapped as it was. Raises `ImportFailed` when the file is not an image-based
    /// devcontainer.json, `ContractError` when what it maps to does not validate, and
    /// `FileError` when it cannot be read.
    #[staticmethod]
    fn import_devcontainer(py: Python<'_>, path: PathBuf) -> PyResult<Imported> {
        imported::import(py, &path, generate::import::devcontainer::import)
    }

    /// Import a devfile (Devfile 2.x YAML) as a contract.
    ///
    /// Returns an `Imported`, as `import_devcontainer` does; raises `ImportFailed`,
    /// `ContractError` or `FileError` likewise.
    #[staticmethod]
    fn import_devfile(py: Python<'_>, path: PathBuf) -> PyResult<Imported> {
        imported::import(py, &path, generate::import::devfile::import)
    }

    /// The contract's JSON Schema (draft 2020-12) as a dict, for editors and other validators.
    #[staticmethod]
    fn json_schema(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        let text = agentbox_core::Contract::json_schema().to_string();
        py.import("json")?.call_method1("loads", (text,))
    }

    /// The environment's name (`metadata.name`).
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// The agent profile (`"default"` when the contract names none).
    #[getter]
    fn profile(&self) -> &str {
        self.inner.profile()
    }

    /// The SHA-256 of the contract's canonical JSON form, in hex: equal for contracts that mean
    /// the same thing, whatever their layout.
    #[getter]
    fn hash(&self) -> &str {
        self.inner.hash()
    }

    /// The absolute directory the agent works in.
    #[getter]
    fn workdir(&self) -> String {
        self.inner.workdir()
    }

    /// Where the workspace's storage is mounted (`"/projects"` unless the contract says otherwise).
    #[getter]
    fn mount_path(&self) -> &str {
        self.inner.mount_path()
    }

    /// Warnings found while loading (always empty for a contract loaded with `strict=True`).
    #[getter]
    fn warnings(&self) -> Vec<Problem> {
        self.inner.warnings().iter().map(Problem::from).collect()
    }

    /// The contract as YAML, in canonical field order.
    fn to_yaml(&self, py: Python<'_>) -> String {
        py.detach(|| self.inner.to_yaml())
    }

    /// Compile the contract into the files of `targets`: relative path → content.
    ///
    /// `targets` is a target name or a list of them (`"all"`, `"devcontainer"`, `"devfile"`,
    /// `"devworkspace"`, `"networkpolicy"`, `"agents"`); `None` or an empty list means every
    /// target. `cilium=True` turns host egress rules into a `CiliumNetworkPolicy`. With
    /// `strict=True`, raises `Unenforceable` when a security field would not be enforced by the
    /// chosen targets. An unknown target name raises `ValueError`.
    #[pyo3(signature = (targets = None, *, strict = false, cilium = false))]
    fn generate(
        &self,
        py: Python<'_>,
        targets: Option<&Bound<'_, PyAny>>,
        strict: bool,
        cilium: bool,
    ) -> PyResult<BTreeMap<String, String>> {
        let targets = generated::targets(targets)?;
        let options = GenerateOptions { cilium, strict };
        let generated = py
            .detach(|| generate::generate(&self.inner, &targets, &options))
            .map_err(to_py)?;
        Ok(generated.files)
    }

    /// Generate the files of `targets` (as for `generate`) and write them under `dir`, creating
    /// directories as needed; returns the relative paths written.
    ///
    /// Each file is written to a temporary sibling and renamed into place. With `strict=True`
    /// and an unenforced security field, raises `Unenforceable` and writes nothing.
    #[pyo3(signature = (dir, targets = None, *, strict = false, cilium = false))]
    fn write(
        &self,
        py: Python<'_>,
        dir: PathBuf,
        targets: Option<&Bound<'_, PyAny>>,
        strict: bool,
        cilium: bool,
    ) -> PyResult<Vec<String>> {
        let targets = generated::targets(targets)?;
        let options = GenerateOptions { cilium, strict };
        py.detach(|| -> agentbox_core::Result<Vec<String>> {
            let generated = generate::generate(&self.inner, &targets, &options)?;
            generated.write_to(&dir)?;
            Ok(generated.files.into_keys().collect())
        })
        .map_err(to_py)
    }

    /// Compare the files under `dir` with what `generate(targets, cilium=cilium)` writes.
    ///
    /// Returns one `Drift` per file that is missing or differs, in path order; an empty list
    /// means every file is up to date.
    #[pyo3(signature = (dir, targets = None, *, cilium = false))]
    fn check(
        &self,
        py: Python<'_>,
        dir: PathBuf,
        targets: Option<&Bound<'_, PyAny>>,
        cilium: bool,
    ) -> PyResult<Vec<Drift>> {
        let targets = generated::targets(targets)?;
        let options = GenerateOptions {
            cilium,
            strict: false,
        };
        let drift = py
            .detach(|| generate::check(&self.inner, &targets, &options, &dir))
            .map_err(to_py)?;
        Ok(drift.files.into_iter().map(Drift::from).collect())
    }

    /// What one target's file carries of this contract: every field the contract sets, with how
    /// the file represents it, or why it does not.
    ///
    /// `target` is one concrete target name (not `"all"`); `cilium` is as for `generate`.
    #[pyo3(signature = (target, *, cilium = false))]
    fn enforceability(
        &self,
        py: Python<'_>,
        target: &str,
        cilium: bool,
    ) -> PyResult<Enforceability> {
        let target = generated::one_target(target)?;
        let options = GenerateOptions {
            cilium,
            strict: false,
        };
        let generated = py
            .detach(|| generate::generate(&self.inner, &[target], &options))
            .map_err(to_py)?;
        Enforceability::new(target, generated.report)
    }

    fn __repr__(&self) -> String {
        let hash = self.inner.hash();
        format!(
            "Contract(name={:?}, hash={:?})",
            self.inner.name(),
            hash.get(..12).unwrap_or(hash)
        )
    }
}

/// Adds the contract classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Contract>()?;
    m.add_class::<Drift>()?;
    m.add_class::<Enforceability>()?;
    m.add_class::<FieldCoverage>()?;
    m.add_class::<Imported>()?;
    m.add_class::<Unmapped>()?;
    Ok(())
}
