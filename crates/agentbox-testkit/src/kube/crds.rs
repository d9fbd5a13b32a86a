//! CustomResourceDefinitions shipped with the test kit, parsed and compiled once per process.

use serde_json::Value;
use std::sync::{Arc, OnceLock};

use super::error::FakeApiError;
use super::resource::ResourceType;

/// The DevWorkspace CRD of devfile/api v2.3.0 (`specs/` says where it comes from).
pub(crate) const DEVWORKSPACES_YAML: &str =
    include_str!("../../specs/workspace.devfile.io_devworkspaces.yaml");
/// The DevWorkspaceTemplate CRD of devfile/api v2.3.0.
pub(crate) const DEVWORKSPACE_TEMPLATES_YAML: &str =
    include_str!("../../specs/workspace.devfile.io_devworkspacetemplates.yaml");

/// A CRD object and the kind it defines.
pub(crate) type Definition = (Value, Arc<ResourceType>);

/// Parse a CRD from YAML and compile its schemas.
pub(crate) fn from_yaml(yaml: &str) -> Result<Definition, FakeApiError> {
    let crd: Value =
        serde_saphyr::from_str(yaml).map_err(|source| FakeApiError::CrdYaml { source })?;
    from_value(crd)
}

/// Check a CRD object and compile its schemas.
pub(crate) fn from_value(crd: Value) -> Result<Definition, FakeApiError> {
    let kind = ResourceType::from_crd(&crd).map_err(|causes| FakeApiError::CrdInvalid {
        name: crd
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        problems: causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect::<Vec<_>>()
            .join("; "),
    })?;
    Ok((crd, Arc::new(kind)))
}

/// The DevWorkspace and DevWorkspaceTemplate definitions.
pub(crate) fn devworkspaces() -> Result<Vec<Definition>, FakeApiError> {
    static PARSED: OnceLock<Result<Vec<Definition>, String>> = OnceLock::new();
    PARSED
        .get_or_init(|| {
            [DEVWORKSPACES_YAML, DEVWORKSPACE_TEMPLATES_YAML]
                .iter()
                .map(|yaml| from_yaml(yaml).map_err(|e| e.to_string()))
                .collect()
        })
        .clone()
        .map_err(|problems| FakeApiError::CrdInvalid {
            name: "the vendored DevWorkspace CRDs".to_owned(),
            problems,
        })
}
