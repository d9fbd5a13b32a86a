//! Workspaces, their builds, the provisioner jobs behind them, and their agents.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `codersdk.WorkspaceTransition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// Start (or create) the workspace's resources.
    Start,
    /// Stop them, keeping persistent storage.
    Stop,
    /// Destroy them.
    Delete,
    /// A value this crate does not know.
    #[serde(other)]
    Unknown,
}

impl Transition {
    /// coderd's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Start => "start",
            Transition::Stop => "stop",
            Transition::Delete => "delete",
            Transition::Unknown => "unknown",
        }
    }
}

/// `codersdk.CreateWorkspaceBuildRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreateWorkspaceBuildRequest {
    /// What the build does.
    pub transition: Transition,
}

/// `codersdk.WorkspaceStatus`: the latest build's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkspaceStatus {
    /// Queued.
    Pending,
    /// A start build runs.
    Starting,
    /// Started.
    Running,
    /// A stop build runs.
    Stopping,
    /// Stopped.
    Stopped,
    /// The latest build failed.
    Failed,
    /// The latest build is being canceled.
    Canceling,
    /// The latest build was canceled.
    Canceled,
    /// A delete build runs.
    Deleting,
    /// Deleted.
    Deleted,
    /// A value this crate does not know.
    #[serde(other)]
    Unknown,
}

impl WorkspaceStatus {
    /// coderd's name.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkspaceStatus::Pending => "pending",
            WorkspaceStatus::Starting => "starting",
            WorkspaceStatus::Running => "running",
            WorkspaceStatus::Stopping => "stopping",
            WorkspaceStatus::Stopped => "stopped",
            WorkspaceStatus::Failed => "failed",
            WorkspaceStatus::Canceling => "canceling",
            WorkspaceStatus::Canceled => "canceled",
            WorkspaceStatus::Deleting => "deleting",
            WorkspaceStatus::Deleted => "deleted",
            WorkspaceStatus::Unknown => "unknown",
        }
    }

    /// A build is still running (a new one would be refused with 409).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            WorkspaceStatus::Pending
                | WorkspaceStatus::Starting
                | WorkspaceStatus::Stopping
                | WorkspaceStatus::Canceling
                | WorkspaceStatus::Deleting
        )
    }
}

/// `codersdk.ProvisionerJobStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Queued.
    Pending,
    /// Running.
    Running,
    /// Finished without error.
    Succeeded,
    /// Being canceled.
    Canceling,
    /// Canceled.
    Canceled,
    /// Failed; see the job's `error`.
    Failed,
    /// A value this crate does not know (coderd itself has `unknown`).
    #[serde(other)]
    Unknown,
}

/// `codersdk.ProvisionerJob`, the Terraform run behind a build.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProvisionerJob {
    /// Its status.
    pub status: JobStatus,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// A machine-readable failure (`REQUIRED_TEMPLATE_VARIABLES`, `INSUFFICIENT_QUOTA`).
    #[serde(default)]
    pub error_code: Option<String>,
}

/// `codersdk.WorkspaceAgentStatus`: the agent's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// Not connected yet.
    Connecting,
    /// Connected.
    Connected,
    /// Was connected, is not now.
    Disconnected,
    /// Did not connect in time.
    Timeout,
    /// A value this crate does not know.
    #[serde(other)]
    Unknown,
}

/// `codersdk.WorkspaceAgentLifecycle`: where the agent's startup is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// Created, not started.
    Created,
    /// Startup scripts run.
    Starting,
    /// Startup scripts ran too long.
    StartTimeout,
    /// A startup script failed.
    StartError,
    /// Ready for commands.
    Ready,
    /// Shutdown scripts run.
    ShuttingDown,
    /// Shutdown scripts ran too long.
    ShutdownTimeout,
    /// A shutdown script failed.
    ShutdownError,
    /// Off.
    Off,
    /// A value this crate does not know.
    #[serde(other)]
    Unknown,
}

impl Lifecycle {
    /// coderd's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Created => "created",
            Lifecycle::Starting => "starting",
            Lifecycle::StartTimeout => "start_timeout",
            Lifecycle::StartError => "start_error",
            Lifecycle::Ready => "ready",
            Lifecycle::ShuttingDown => "shutting_down",
            Lifecycle::ShutdownTimeout => "shutdown_timeout",
            Lifecycle::ShutdownError => "shutdown_error",
            Lifecycle::Off => "off",
            Lifecycle::Unknown => "unknown",
        }
    }
}

/// `codersdk.WorkspaceAgent`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WorkspaceAgent {
    /// The agent's id, used for its PTY.
    pub id: Uuid,
    /// Its name in the template (`coder_agent.<name>`).
    #[serde(default)]
    pub name: String,
    /// Its connection.
    pub status: AgentStatus,
    /// Its startup.
    pub lifecycle_state: Lifecycle,
    /// Set on dev-container sub-agents: the agent they run under.
    #[serde(default)]
    pub parent_id: Option<Uuid>,
}

/// `codersdk.WorkspaceResource`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WorkspaceResource {
    /// The agents running in this resource.
    #[serde(default)]
    pub agents: Vec<WorkspaceAgent>,
}

/// `codersdk.WorkspaceBuild`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WorkspaceBuild {
    /// The build's id.
    pub id: Uuid,
    /// Its number, counting from 1 per workspace.
    #[serde(default)]
    pub build_number: i64,
    /// What it does.
    pub transition: Transition,
    /// Where it is.
    pub status: WorkspaceStatus,
    /// The Terraform run behind it.
    pub job: ProvisionerJob,
    /// The resources it made, with their agents.
    #[serde(default)]
    pub resources: Vec<WorkspaceResource>,
}

impl WorkspaceBuild {
    /// Every agent of every resource.
    pub fn agents(&self) -> impl Iterator<Item = &WorkspaceAgent> {
        self.resources.iter().flat_map(|r| r.agents.iter())
    }
}

/// `codersdk.Workspace`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Workspace {
    /// The workspace's id.
    pub id: Uuid,
    /// Its name, unique per owner.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The template it was made from.
    #[serde(default)]
    pub template_name: String,
    /// Its owner's username.
    #[serde(default)]
    pub owner_name: String,
    /// Its latest build.
    pub latest_build: WorkspaceBuild,
    /// Autostop after this many milliseconds of running.
    #[serde(default)]
    pub ttl_ms: Option<i64>,
}

/// `codersdk.WorkspacesResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WorkspacesResponse {
    /// One page of workspaces.
    #[serde(default)]
    pub workspaces: Vec<Workspace>,
    /// How many match in all.
    #[serde(default)]
    pub count: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::PtyInput;

    #[test]
    fn unknown_enum_values_decode() {
        let s: WorkspaceStatus = serde_json::from_str("\"hibernating\"").unwrap();
        assert_eq!(s, WorkspaceStatus::Unknown);
        let l: Lifecycle = serde_json::from_str("\"start_error\"").unwrap();
        assert_eq!(l, Lifecycle::StartError);
    }

    #[test]
    fn pty_input_leaves_out_empty_fields() {
        let text = serde_json::to_string(&PtyInput {
            data: "ls\n",
            height: 0,
            width: 0,
        })
        .unwrap();
        assert_eq!(text, r#"{"data":"ls\n"}"#);
    }

    #[test]
    fn null_parent_and_missing_fields_decode() {
        let agent: WorkspaceAgent = serde_json::from_str(
            r#"{"id":"4a8f3e38-6a53-4b57-8f1c-2f2f0f0b8a10","status":"connected","lifecycle_state":"ready","parent_id":null}"#,
        )
        .unwrap();
        assert_eq!(agent.parent_id, None);
        assert_eq!(agent.name, "");
    }
}
