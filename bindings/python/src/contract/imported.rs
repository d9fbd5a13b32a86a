//! `Contract.import_devcontainer` / `import_devfile`: another format's file as a validated
//! contract, with every part that could not be mapped.

use std::path::Path;

use agentbox_core::Error as CoreError;
use agentbox_core::contract::LoadOptions;
use agentbox_core::generate::import::Imported as CoreImported;
use pyo3::prelude::*;

use super::Contract;
use crate::errors::to_py;

/// One part of an imported file that has no place in the contract, or was changed to fit.
#[pyclass(module = "agentbox", frozen, get_all, eq)]
#[derive(Clone, PartialEq)]
pub struct Unmapped {
    /// Where it is in the imported file, e.g. `portsAttributes.40000-55000`.
    pub path: String,
    /// What happened to it, and why.
    pub why: String,
}

#[pymethods]
impl Unmapped {
    fn __repr__(&self) -> String {
        format!("Unmapped(path={:?}, why={:?})", self.path, self.why)
    }

    fn __str__(&self) -> String {
        format!("{}: {}", self.path, self.why)
    }
}

/// The result of an import: the validated contract, and what could not be mapped.
#[pyclass(module = "agentbox", frozen)]
pub struct Imported {
    /// The contract the file maps to, validated.
    #[pyo3(get)]
    contract: Py<Contract>,
    /// Every part of the file that has no place in the contract, or was changed to fit, in the
    /// order the importer met them; empty when everything mapped.
    #[pyo3(get)]
    unmapped: Vec<Unmapped>,
}

#[pymethods]
impl Imported {
    fn __repr__(&self) -> String {
        format!(
            "Imported(contract={}, unmapped={})",
            self.contract.get().__repr__(),
            self.unmapped.len()
        )
    }
}

/// Read the file at `path`, convert it with `importer` and validate the result.
pub(super) fn import(
    py: Python<'_>,
    path: &Path,
    importer: fn(&str, &str) -> agentbox_core::Result<CoreImported>,
) -> PyResult<Imported> {
    let (inner, unmapped) = py
        .detach(|| {
            let origin = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|source| CoreError::Io {
                action: "read the file to import",
                path: path.to_path_buf(),
                source,
            })?;
            let imported = importer(&text, &origin)?;
            let contract =
                agentbox_core::Contract::from_document(imported.document, &LoadOptions::default())
                    .map_err(|e| match e {
                        // Name the imported file, not the in-memory document, as the origin.
                        CoreError::InvalidContract { problems, .. } => CoreError::InvalidContract {
                            origin: format!("imported from {origin}"),
                            problems,
                        },
                        other => other,
                    })?;
            Ok::<_, CoreError>((contract, imported.unmapped))
        })
        .map_err(to_py)?;
    Ok(Imported {
        contract: Py::new(py, Contract { inner })?,
        unmapped: unmapped
            .into_iter()
            .map(|u| Unmapped {
                path: u.path,
                why: u.why,
            })
            .collect(),
    })
}
