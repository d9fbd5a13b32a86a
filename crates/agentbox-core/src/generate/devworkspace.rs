//! `.agentbox/devworkspace.yaml`: a `DevWorkspace` (`workspace.devfile.io/v1alpha2`) ready to
//! apply, for Eclipse Che (`routingClass: che`). Its `spec.template` is the devfile's body.

use serde_json::{Value, json};

use super::output::{self, Object};
use super::report::Notes;
use crate::Contract;
use crate::Result;

/// The DevWorkspace API version written.
pub const API_VERSION: &str = "workspace.devfile.io/v1alpha2";
/// The routing class Che's operator serves.
pub const ROUTING_CLASS: &str = "che";
/// Annotation carrying the full hash of the contract the manifest was generated from.
pub const HASH_ANNOTATION: &str = "agentbox.dev/contract-hash";

/// The manifest text.
pub(super) fn render(contract: &Contract, notes: &mut Notes) -> Result<String> {
    let mut metadata = Object::new();
    metadata.put("name", contract.name());
    let labels: serde_json::Map<String, Value> = contract
        .metadata
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    metadata.put("labels", labels);
    metadata.put("annotations", json!({ HASH_ANNOTATION: contract.hash() }));
    if !contract.metadata.labels.is_empty() {
        notes.represented("metadata.labels", "DevWorkspace `metadata.labels`");
    }

    let mut spec = Object::new();
    spec.put("started", true);
    spec.put("routingClass", ROUTING_CLASS);
    spec.put("template", super::devfile::template(contract, notes));

    let mut doc = Object::new();
    doc.put("apiVersion", API_VERSION);
    doc.put("kind", "DevWorkspace");
    doc.put("metadata", metadata.build());
    doc.put("spec", spec.build());
    notes.note("`spec.started: true`: applying the manifest starts the workspace; patch it to false to stop");
    output::yaml_documents(contract, &[doc.build()])
}
