//! [`DevWorkspaceTemplateSpec`]: a devfile body, as a DevWorkspace's `spec.template` and as the
//! `spec` of a [`DevWorkspaceTemplate`].

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Extra, free_form};

/// A devfile body without `schemaVersion` and `metadata`: a DevWorkspace's `spec.template`, and
/// the `spec` of a [`DevWorkspaceTemplate`] (an editor or a shared parent).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "workspace.devfile.io",
    version = "v1alpha2",
    kind = "DevWorkspaceTemplate",
    plural = "devworkspacetemplates",
    singular = "devworkspacetemplate",
    shortname = "dwt",
    namespaced,
    doc = "A DevWorkspaceTemplate (`workspace.devfile.io/v1alpha2`): a devfile body other DevWorkspaces use as parent or plugin."
)]
#[serde(rename_all = "camelCase")]
pub struct DevWorkspaceTemplateSpec {
    /// Free-form attributes (`controller.devfile.io/storage-type`, `pod-overrides`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "free_form")]
    pub attributes: Extra,
    /// The components: containers, volumes and more.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
    /// Projects the operator clones into the workspace before it starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<Project>,
    /// Fields not modelled here (`commands`, `events`, `parent`, `variables`, …), kept as they came.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

impl DevWorkspaceTemplateSpec {
    /// The component called `name`.
    pub fn component(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name == name)
    }
}

/// One devfile component. Exactly one of its kinds is set.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    /// The component's name; a container component's container has this name in the pod.
    pub name: String,
    /// Free-form attributes (`container-overrides`, `pod-overrides`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "free_form")]
    pub attributes: Extra,
    /// A container the workspace runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerComponent>,
    /// A volume containers can mount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeComponent>,
    /// Other kinds (`kubernetes`, `openshift`, `image`, `plugin`, `custom`), kept as they came.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// A container component.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerComponent {
    /// The image.
    pub image: String,
    /// The entry point's arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// The entry point, replacing the image's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Environment variables (literal values only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Whether the project sources are mounted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_sources: Option<bool>,
    /// Where the project sources are mounted (`/projects` when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_mapping: Option<String>,
    /// Fields not modelled here (`endpoints`, `memoryLimit`, `volumeMounts`, …).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// One environment variable of a container component.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct EnvVar {
    /// The variable's name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// A volume component.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeComponent {
    /// An `emptyDir` that does not survive a stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral: Option<bool>,
    /// The size, as a Kubernetes quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// A project the operator clones into the workspace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// The project's name; it is cloned to `$PROJECTS_ROOT/<clonePath or name>`.
    pub name: String,
    /// Where to clone it, relative to the projects root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone_path: Option<String>,
    /// A git repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitSource>,
    /// Free-form attributes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "free_form")]
    pub attributes: Extra,
    /// Other sources (`zip`, `custom`), kept as they came.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// A git project source.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitSource {
    /// Remote names and URLs.
    pub remotes: BTreeMap<String, String>,
    /// What to check out; the default branch of the only remote when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_from: Option<CheckoutFrom>,
}

/// What to check out of a git project.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutFrom {
    /// The remote to check out from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// A branch, tag or commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}
