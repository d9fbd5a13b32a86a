//! Logs, watch events, error bodies and PTY input.

use serde::{Deserialize, Serialize};

/// `codersdk.ProvisionerJobLog`: one line of a build's log.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProvisionerJobLog {
    /// Its sequence number.
    #[serde(default)]
    pub id: i64,
    /// `trace`, `debug`, `info`, `warn` or `error`.
    #[serde(default)]
    pub log_level: String,
    /// The Terraform stage.
    #[serde(default)]
    pub stage: String,
    /// The text.
    #[serde(default)]
    pub output: String,
}

/// `codersdk.WorkspaceAgentLog`: one line of an agent's startup log.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WorkspaceAgentLog {
    /// The text.
    #[serde(default)]
    pub output: String,
}

/// `codersdk.ServerSentEvent`: one message of a workspace watch.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ServerSentEvent {
    /// `data`, `ping` or `error`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// A `codersdk.Workspace` for `data`, a `codersdk.Response` for `error`.
    #[serde(default)]
    pub data: serde_json::Value,
}

/// `codersdk.ValidationError`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ValidationError {
    /// The field concerned.
    #[serde(default)]
    pub field: String,
    /// What is wrong with it.
    #[serde(default)]
    pub detail: String,
}

/// `codersdk.Response`: the body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApiResponse {
    /// For people.
    #[serde(default)]
    pub message: String,
    /// Usually the server's internal error text.
    #[serde(default)]
    pub detail: String,
    /// One entry per invalid field.
    #[serde(default)]
    pub validations: Vec<ValidationError>,
}

/// `workspacesdk.ReconnectingPTYRequest`: what a PTY client sends (every field may be left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PtyInput<'a> {
    /// Keystrokes.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub data: &'a str,
    /// Rows.
    #[serde(skip_serializing_if = "is_zero")]
    pub height: u16,
    /// Columns.
    #[serde(skip_serializing_if = "is_zero")]
    pub width: u16,
}

fn is_zero(n: &u16) -> bool {
    *n == 0
}
