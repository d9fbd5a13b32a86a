//! Typed `workspace.devfile.io/v1alpha2` resources: [`DevWorkspace`] and
//! [`DevWorkspaceTemplate`], as the DevWorkspace Operator serves them.
//!
//! The CRDs are huge (a whole devfile); these types model what agentbox reads and writes —
//! `started`, the container components, projects, attributes, the status — and keep every other
//! field as it came (`extra` maps flattened into each struct), so an object read, changed and
//! written back loses nothing.

mod devworkspace;
mod phase;
mod template;

pub use devworkspace::{DevWorkspace, DevWorkspaceCondition, DevWorkspaceSpec, DevWorkspaceStatus};
pub use phase::DevWorkspacePhase;
pub use template::{
    CheckoutFrom, Component, ContainerComponent, DevWorkspaceTemplate, DevWorkspaceTemplateSpec,
    EnvVar, GitSource, Project, VolumeComponent,
};

use std::collections::BTreeMap;

use schemars::{Schema, SchemaGenerator, json_schema};

/// Fields a type does not model, kept as they came.
pub type Extra = BTreeMap<String, serde_json::Value>;

/// The schema of a free-form object: any keys, any values, kept by the API server.
pub(crate) fn free_form(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}
