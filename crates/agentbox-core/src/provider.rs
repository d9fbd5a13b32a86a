//! [`WorkspaceProvider`]: the lifecycle of workspaces on one backend.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::Result;
use crate::contract::Contract;
use crate::exec::Executor;

/// Label every agentbox workspace carries: `app.kubernetes.io/managed-by=agentbox`.
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Label holding the contract's name.
pub const LABEL_CONTRACT: &str = "agentbox.dev/contract";
/// Label holding the first 32 hex digits of the contract's hash (label values stop at 63).
pub const LABEL_CONTRACT_HASH: &str = "agentbox.dev/contract-hash";
/// Label holding the task id, when a task runner made the workspace.
pub const LABEL_TASK_ID: &str = "agentbox.dev/task-id";

/// A backend-assigned workspace identifier (a directory name, a DevWorkspace name, a Coder UUID).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkspaceId(pub String);

impl WorkspaceId {
    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for WorkspaceId {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// A git repository to clone into the workspace's `workdir` when it is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// Clone URL (never carrying credentials; those come by reference).
    pub url: String,
    /// Branch, tag or commit to check out; the remote's default when `None`.
    pub revision: Option<String>,
}

/// Per-task overrides applied when a workspace is created from a contract.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    /// Workspace name; derived from the contract's name and a random suffix when `None`.
    pub name: Option<String>,
    /// Extra labels, merged over the contract's.
    pub labels: BTreeMap<String, String>,
    /// A repository to clone into `workdir`.
    pub project: Option<Project>,
}

impl CreateRequest {
    /// A request with this workspace name.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            ..Self::default()
        }
    }

    /// Add one label.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Clone this repository into the workspace.
    pub fn project(mut self, project: Project) -> Self {
        self.project = Some(project);
        self
    }
}

/// Where a workspace is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Phase {
    /// Created, never started.
    Pending,
    /// Starting; not ready for commands yet.
    Starting,
    /// Ready for commands.
    Running,
    /// Stopping.
    Stopping,
    /// Stopped; storage kept, can be resumed.
    Stopped,
    /// Failed; see the status message.
    Failed,
    /// Being deleted.
    Terminating,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Phase::Pending => "pending",
            Phase::Starting => "starting",
            Phase::Running => "running",
            Phase::Stopping => "stopping",
            Phase::Stopped => "stopped",
            Phase::Failed => "failed",
            Phase::Terminating => "terminating",
        };
        f.write_str(s)
    }
}

/// What a provider knows about one workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceInfo {
    /// Backend-assigned id.
    pub id: WorkspaceId,
    /// Human-readable name.
    pub name: String,
    /// Backend name (`local`, `che`, `coder`).
    pub backend: String,
    /// Current phase.
    pub phase: Phase,
    /// The backend's message about the phase (why it failed, what it waits for).
    pub message: Option<String>,
    /// Labels, including agentbox's own.
    pub labels: BTreeMap<String, String>,
    /// Hash of the contract it was made from.
    pub contract_hash: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A label selector: every `key=value` pair must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    /// Required label values.
    pub equals: BTreeMap<String, String>,
}

impl LabelSelector {
    /// Select everything.
    pub fn all() -> Self {
        Self::default()
    }

    /// Also require `key=value`.
    pub fn eq(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.equals.insert(key.into(), value.into());
        self
    }

    /// Whether a label set matches.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.equals.iter().all(|(k, v)| labels.get(k) == Some(v))
    }

    /// The Kubernetes form, `a=b,c=d`.
    pub fn to_query(&self) -> String {
        self.equals
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// What a backend can do; the behaviour suite and the task runner respect it instead of
/// expecting every backend to fake every feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// stdout and stderr arrive separately (false over a PTY).
    pub separate_streams: bool,
    /// One long-lived shell can run many commands.
    pub persistent_session: bool,
    /// `stop` keeps the workspace's files for `resume`.
    pub suspend_keeps_storage: bool,
    /// Readiness is pushed by the backend rather than polled.
    pub watch: bool,
    /// Commands run isolated from the host (a sandbox, a container or a VM).
    pub isolated: bool,
    /// Egress can be limited per rule (not merely all-or-nothing).
    pub egress_rules: bool,
}

/// The lifecycle of workspaces on one backend.
///
/// Small on purpose; conveniences live in [`WorkspaceProviderExt`].
#[async_trait]
pub trait WorkspaceProvider: Send + Sync + fmt::Debug {
    /// The backend's name, as used in errors and evidence.
    fn backend(&self) -> &'static str;

    /// What this backend can do.
    fn capabilities(&self) -> Capabilities;

    /// Create a workspace from a validated contract. It is not started.
    async fn create(&self, contract: &Contract, request: CreateRequest) -> Result<WorkspaceInfo>;

    /// Start a created or stopped workspace. Starting a running one does nothing.
    async fn start(&self, id: &WorkspaceId) -> Result<()>;

    /// Stop (suspend) a workspace; its storage is kept when the backend can.
    async fn stop(&self, id: &WorkspaceId) -> Result<()>;

    /// Resume a stopped workspace.
    async fn resume(&self, id: &WorkspaceId) -> Result<()> {
        self.start(id).await
    }

    /// Delete a workspace and its storage. Deleting one that is already gone succeeds.
    async fn delete(&self, id: &WorkspaceId) -> Result<()>;

    /// The workspace's current state.
    async fn status(&self, id: &WorkspaceId) -> Result<WorkspaceInfo>;

    /// Every workspace of this provider whose labels match.
    async fn list(&self, selector: &LabelSelector) -> Result<Vec<WorkspaceInfo>>;

    /// Wait until the workspace is ready for commands, returning as soon as the backend says so;
    /// fails with [`crate::Error::Timeout`] after `timeout`, or with the backend's failure.
    async fn wait_ready(&self, id: &WorkspaceId, timeout: Duration) -> Result<WorkspaceInfo>;

    /// An executor for commands and files in a running workspace.
    async fn executor(&self, id: &WorkspaceId) -> Result<Arc<dyn Executor>>;
}

/// Conveniences for every [`WorkspaceProvider`].
#[async_trait]
pub trait WorkspaceProviderExt: WorkspaceProvider {
    /// Create, start and wait until ready; the workspace is deleted again if any step fails.
    async fn provision(
        &self,
        contract: &Contract,
        request: CreateRequest,
        timeout: Duration,
    ) -> Result<WorkspaceInfo> {
        let info = self.create(contract, request).await?;
        let started = async {
            self.start(&info.id).await?;
            self.wait_ready(&info.id, timeout).await
        }
        .await;
        match started {
            Ok(ready) => Ok(ready),
            Err(e) => {
                if let Err(cleanup) = self.delete(&info.id).await {
                    tracing::warn!(workspace = %info.id, error = %cleanup, "cleanup after a failed start failed");
                }
                Err(e)
            }
        }
    }
}

impl<P: WorkspaceProvider + ?Sized> WorkspaceProviderExt for P {}

/// Default name for a workspace made from a contract: the contract's name and a random suffix,
/// within a DNS-1123 label.
pub fn default_workspace_name(contract: &Contract) -> String {
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let base: String = contract.name().chars().take(63 - 9).collect();
    format!("{}-{suffix}", base.trim_end_matches('-'))
}

/// The labels agentbox puts on every workspace: managed-by, contract name and hash, then the
/// contract's own labels, then the request's.
pub fn workspace_labels(contract: &Contract, request: &CreateRequest) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    labels.insert(LABEL_MANAGED_BY.to_owned(), "agentbox".to_owned());
    labels.insert(LABEL_CONTRACT.to_owned(), contract.name().to_owned());
    labels.insert(
        LABEL_CONTRACT_HASH.to_owned(),
        contract.hash()[..32].to_owned(),
    );
    labels.extend(contract.metadata.labels.clone());
    labels.extend(request.labels.clone());
    labels
}
