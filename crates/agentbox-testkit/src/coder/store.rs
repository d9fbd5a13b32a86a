//! What the fake coderd remembers: its user, organization, templates, workspaces and builds,
//! as plain records; `render.rs` turns them into `codersdk` JSON.

use std::collections::{BTreeMap, HashMap};

use agentbox_core::provider::WorkspaceId;
use chrono::{DateTime, Utc};
use tokio::sync::watch;
use uuid::Uuid;

use super::template::FakeTemplate;

/// `codersdk.WorkspaceTransition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    Start,
    Stop,
    Delete,
}

impl Transition {
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Start => "start",
            Transition::Stop => "stop",
            Transition::Delete => "delete",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "start" => Some(Transition::Start),
            "stop" => Some(Transition::Stop),
            "delete" => Some(Transition::Delete),
            _ => None,
        }
    }
}

/// `codersdk.ProvisionerJobStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobStatus {
    Pending,
    Running,
    Succeeded,
    Canceling,
    Canceled,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Canceling => "canceling",
            JobStatus::Canceled => "canceled",
            JobStatus::Failed => "failed",
        }
    }

    /// Whether the job has not finished (coderd refuses a new build meanwhile).
    pub fn active(self) -> bool {
        matches!(
            self,
            JobStatus::Pending | JobStatus::Running | JobStatus::Canceling
        )
    }
}

/// `codersdk.WorkspaceStatus` of a build, from its transition and its job's status (as coderd's
/// `convertWorkspaceStatus` derives it).
pub(crate) fn workspace_status(transition: Transition, job: JobStatus) -> &'static str {
    match (job, transition) {
        (JobStatus::Pending, _) => "pending",
        (JobStatus::Running, Transition::Start) => "starting",
        (JobStatus::Running, Transition::Stop) => "stopping",
        (JobStatus::Running, Transition::Delete) => "deleting",
        (JobStatus::Succeeded, Transition::Start) => "running",
        (JobStatus::Succeeded, Transition::Stop) => "stopped",
        (JobStatus::Succeeded, Transition::Delete) => "deleted",
        (JobStatus::Canceling, _) => "canceling",
        (JobStatus::Canceled, _) => "canceled",
        (JobStatus::Failed, _) => "failed",
    }
}

/// `codersdk.WorkspaceAgentStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AgentStatus {
    Connecting,
    Connected,
}

impl AgentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Connecting => "connecting",
            AgentStatus::Connected => "connected",
        }
    }
}

/// `codersdk.WorkspaceAgentLifecycle` (the states the fake's agents go through).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    Created,
    Starting,
    Ready,
    StartError,
}

impl Lifecycle {
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Created => "created",
            Lifecycle::Starting => "starting",
            Lifecycle::Ready => "ready",
            Lifecycle::StartError => "start_error",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct UserRec {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct OrgRec {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct TemplateRec {
    pub id: Uuid,
    pub version_id: Uuid,
    pub version_name: String,
    pub version_job_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub spec: FakeTemplate,
}

#[derive(Debug, Clone)]
pub(crate) struct WorkspaceRec {
    pub id: Uuid,
    pub name: String,
    pub template_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub ttl_ms: Option<i64>,
    pub autostart: Option<String>,
    pub automatic_updates: String,
    pub deleted: bool,
    /// Build ids, oldest first.
    pub builds: Vec<Uuid>,
    /// The backing local workspace.
    pub local: WorkspaceId,
    /// The parameter values of the latest build.
    pub parameters: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub(crate) struct LogRec {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub source: &'static str,
    pub level: &'static str,
    pub stage: String,
    pub output: String,
}

#[derive(Debug, Clone)]
pub(crate) struct JobRec {
    pub id: Uuid,
    pub file_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub canceled_at: Option<DateTime<Utc>>,
    pub status: JobStatus,
    pub error: Option<String>,
    pub logs: Vec<LogRec>,
}

/// One line of an agent's startup log.
#[derive(Debug, Clone)]
pub(crate) struct AgentLogRec {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub level: &'static str,
    pub output: String,
}

#[derive(Debug, Clone)]
pub(crate) struct AgentRec {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub status: AgentStatus,
    pub lifecycle: Lifecycle,
    pub first_connected_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub ready_at: Option<DateTime<Utc>>,
    pub directory: String,
    /// The startup script's log source.
    pub log_source_id: Uuid,
    pub logs: Vec<AgentLogRec>,
}

#[derive(Debug, Clone)]
pub(crate) struct ResourceRec {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub kind: &'static str,
    pub name: &'static str,
    pub icon: &'static str,
    pub agent: Option<AgentRec>,
}

#[derive(Debug)]
pub(crate) struct BuildRec {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub number: i32,
    pub transition: Transition,
    pub template_version_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deadline: Option<DateTime<Utc>>,
    pub job: JobRec,
    pub resources: Vec<ResourceRec>,
    pub parameters: BTreeMap<String, String>,
    /// Fault: fail with these log lines.
    pub planned_failure: Option<Vec<String>>,
    /// Fault: the agent ends in `start_error`.
    pub planned_start_error: bool,
    /// Set when the build is canceled.
    pub cancel: watch::Sender<bool>,
}

impl BuildRec {
    pub fn status(&self) -> &'static str {
        workspace_status(self.transition, self.job.status)
    }
}

/// Everything, behind one lock.
#[derive(Debug)]
pub(crate) struct Store {
    pub user: UserRec,
    pub org: OrgRec,
    pub templates: Vec<TemplateRec>,
    pub workspaces: Vec<WorkspaceRec>,
    pub builds: HashMap<Uuid, BuildRec>,
    pub next_log_id: i64,
}

impl Store {
    pub fn workspace(&self, id: Uuid) -> Option<&WorkspaceRec> {
        self.workspaces.iter().find(|w| w.id == id)
    }

    pub fn workspace_mut(&mut self, id: Uuid) -> Option<&mut WorkspaceRec> {
        self.workspaces.iter_mut().find(|w| w.id == id)
    }

    pub fn template(&self, id: Uuid) -> Option<&TemplateRec> {
        self.templates.iter().find(|t| t.id == id)
    }

    pub fn template_by_version(&self, version: Uuid) -> Option<&TemplateRec> {
        self.templates.iter().find(|t| t.version_id == version)
    }

    /// The latest build of a workspace.
    pub fn latest(&self, workspace: &WorkspaceRec) -> Option<&BuildRec> {
        workspace.builds.last().and_then(|id| self.builds.get(id))
    }

    /// The build holding agent `agent`, and the agent.
    pub fn agent(&self, agent: Uuid) -> Option<(&BuildRec, &AgentRec)> {
        self.builds.values().find_map(|b| {
            b.resources
                .iter()
                .filter_map(|r| r.agent.as_ref())
                .find(|a| a.id == agent)
                .map(|a| (b, a))
        })
    }

    /// The next log id (build and agent logs share the sequence; each only needs to grow).
    pub fn next_log_id(&mut self) -> i64 {
        self.next_log_id += 1;
        self.next_log_id
    }

    /// Append a provisioner log line to a build's job.
    pub fn log(&mut self, build: Uuid, level: &'static str, stage: &str, output: &str) {
        let id = self.next_log_id();
        if let Some(b) = self.builds.get_mut(&build) {
            b.job.logs.push(LogRec {
                id,
                created_at: Utc::now(),
                source: if output.is_empty() {
                    "provisioner_daemon"
                } else {
                    "provisioner"
                },
                level,
                stage: stage.to_owned(),
                output: output.to_owned(),
            });
        }
    }
}
