//! Templates, their rich parameters, and the requests that create a workspace.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `codersdk.Template`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Template {
    /// The template's id.
    pub id: Uuid,
    /// Its name, unique in its organization.
    #[serde(default)]
    pub name: String,
    /// The version new workspaces are built from.
    pub active_version_id: Uuid,
    /// Whether administrators deprecated it (new workspaces are refused).
    #[serde(default)]
    pub deprecated: bool,
    /// Why it was deprecated.
    #[serde(default)]
    pub deprecation_message: String,
}

/// `codersdk.TemplateVersionParameterOption`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ParameterOption {
    /// Shown to people.
    #[serde(default)]
    pub name: String,
    /// The value a build gives.
    #[serde(default)]
    pub value: String,
}

/// `codersdk.TemplateVersionParameter`: one rich parameter of a template version.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TemplateVersionParameter {
    /// The parameter's name, the key of `rich_parameter_values`.
    pub name: String,
    /// Shown to people.
    #[serde(default)]
    pub display_name: String,
    /// `string`, `number`, `bool` or `list(string)`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The value used when a build gives none.
    #[serde(default)]
    pub default_value: String,
    /// A build must give a value (the Terraform has no default).
    #[serde(default)]
    pub required: bool,
    /// Later builds may change the value.
    #[serde(default)]
    pub mutable: bool,
    /// The value applies to one build only.
    #[serde(default)]
    pub ephemeral: bool,
    /// Allowed values; empty for free input.
    #[serde(default)]
    pub options: Vec<ParameterOption>,
    /// How the UI shows it; `multi-select` makes each element of a list an option.
    #[serde(default)]
    pub form_type: String,
    /// A regular expression a string value must match (RE2 syntax).
    #[serde(default)]
    pub validation_regex: Option<String>,
    /// The message shown when the value fails validation.
    #[serde(default)]
    pub validation_error: Option<String>,
    /// The smallest allowed number.
    #[serde(default)]
    pub validation_min: Option<i64>,
    /// The largest allowed number.
    #[serde(default)]
    pub validation_max: Option<i64>,
}

/// `codersdk.WorkspaceBuildParameter`: a value is always a string (a JSON array for lists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceBuildParameter {
    /// The parameter's name.
    pub name: String,
    /// Its value.
    #[serde(default)]
    pub value: String,
}

/// `codersdk.CreateWorkspaceRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreateWorkspaceRequest {
    /// The workspace's name (see [`crate::workspace_name`]).
    pub name: String,
    /// The template version to build (exactly one of this or a template id is given).
    pub template_version_id: Uuid,
    /// Parameter values.
    pub rich_parameter_values: Vec<WorkspaceBuildParameter>,
    /// Autostop after this many milliseconds of the workspace running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<i64>,
    /// `never`: agentbox workspaces keep the version they were made from.
    pub automatic_updates: &'static str,
}
