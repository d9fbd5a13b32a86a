//! [`DevWorkspace`]: a workspace, reconciled by the DevWorkspace Operator.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DevWorkspacePhase, DevWorkspaceTemplateSpec, Extra};

/// `spec` of a [`DevWorkspace`]: whether it should run, how it is routed and what it is.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "workspace.devfile.io",
    version = "v1alpha2",
    kind = "DevWorkspace",
    plural = "devworkspaces",
    singular = "devworkspace",
    shortname = "dw",
    namespaced,
    status = "DevWorkspaceStatus",
    doc = "A DevWorkspace (`workspace.devfile.io/v1alpha2`): a workspace the DevWorkspace Operator runs while `spec.started` is true."
)]
#[serde(rename_all = "camelCase")]
pub struct DevWorkspaceSpec {
    /// `true` asks the operator to run the workspace, `false` to scale it down (storage kept).
    pub started: bool,
    /// The routing class (`che` for Eclipse Che).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_class: Option<String>,
    /// The workspace's structure: a devfile body without `schemaVersion` and `metadata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<DevWorkspaceTemplateSpec>,
    /// Fields not modelled here (`contributions`), kept as they came.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// `status` of a [`DevWorkspace`], written only by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DevWorkspaceStatus {
    /// The workspace's id (`workspace…`), the value of the pod label
    /// `controller.devfile.io/devworkspace_id`. Empty until the first reconcile.
    #[serde(default)]
    pub devworkspace_id: String,
    /// The main URL (e.g. the editor's), once routed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_url: Option<String>,
    /// Where the workspace is in its life.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<DevWorkspacePhase>,
    /// The operator's message about the phase (why it failed, what it waits for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The latest observations of the workspace's state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<DevWorkspaceCondition>,
}

/// One condition of a [`DevWorkspaceStatus`] (`Started`, `ComponentsReady`, `Ready`, …).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DevWorkspaceCondition {
    /// The condition's type.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// One CamelCase word saying why it last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A human-readable message about the last change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When it last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

impl DevWorkspace {
    /// The phase, when the operator has written one.
    pub fn phase(&self) -> Option<&DevWorkspacePhase> {
        self.status.as_ref().and_then(|s| s.phase.as_ref())
    }

    /// The operator's message, when there is one.
    pub fn message(&self) -> Option<&str> {
        self.status.as_ref().and_then(|s| s.message.as_deref())
    }

    /// The workspace id, once the operator has assigned one.
    pub fn devworkspace_id(&self) -> Option<&str> {
        self.status
            .as_ref()
            .map(|s| s.devworkspace_id.as_str())
            .filter(|id| !id.is_empty())
    }
}
