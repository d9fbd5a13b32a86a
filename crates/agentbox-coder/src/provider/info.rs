//! A Coder workspace as a [`WorkspaceInfo`]: its phase from the latest build and its agents,
//! its labels and contract hash from agentbox's metadata parameter.

use agentbox_core::Result;
use agentbox_core::provider::{Phase, WorkspaceId, WorkspaceInfo};

use super::CoderProvider;
use crate::error::{BACKEND, CoderError};
use crate::models::{AgentStatus, JobStatus, Lifecycle, Transition, Workspace, WorkspaceStatus};
use crate::params::WorkspaceMetadata;

/// Whether every agent of the latest build is connected and ready (and there is one).
pub(crate) fn agents_ready(w: &Workspace) -> bool {
    let mut agents = w.latest_build.agents().peekable();
    agents.peek().is_some()
        && agents
            .all(|a| a.status == AgentStatus::Connected && a.lifecycle_state == Lifecycle::Ready)
}

/// The first agent whose startup failed, with its lifecycle.
pub(crate) fn failed_agent(w: &Workspace) -> Option<(&crate::models::WorkspaceAgent, Lifecycle)> {
    w.latest_build
        .agents()
        .find(|a| {
            matches!(
                a.lifecycle_state,
                Lifecycle::StartError | Lifecycle::StartTimeout
            )
        })
        .map(|a| (a, a.lifecycle_state))
}

/// The phase of a workspace and why, from its latest build.
pub(crate) fn phase(w: &Workspace) -> (Phase, Option<String>) {
    let b = &w.latest_build;
    let job_error = || b.job.error.clone().filter(|e| !e.is_empty());
    match (b.transition, b.status) {
        (_, WorkspaceStatus::Failed) => (
            Phase::Failed,
            Some(
                job_error()
                    .unwrap_or_else(|| format!("the {} build failed", b.transition.as_str())),
            ),
        ),
        (_, WorkspaceStatus::Canceled | WorkspaceStatus::Canceling) => (
            Phase::Failed,
            Some(format!("the {} build was canceled", b.transition.as_str())),
        ),
        (_, WorkspaceStatus::Deleting | WorkspaceStatus::Deleted) | (Transition::Delete, _) => {
            (Phase::Terminating, None)
        }
        (Transition::Stop, WorkspaceStatus::Stopped) | (_, WorkspaceStatus::Stopped) => {
            (Phase::Stopped, None)
        }
        (Transition::Stop, _) | (_, WorkspaceStatus::Stopping) => (Phase::Stopping, None),
        (Transition::Start, WorkspaceStatus::Pending) if b.build_number <= 1 => {
            (Phase::Pending, Some(queue_message(w)))
        }
        (Transition::Start, WorkspaceStatus::Running) => {
            if let Some((agent, lifecycle)) = failed_agent(w) {
                (
                    Phase::Failed,
                    Some(format!(
                        "agent `{}` ended its startup in {}",
                        agent.name,
                        lifecycle.as_str()
                    )),
                )
            } else if agents_ready(w) {
                (Phase::Running, None)
            } else {
                (
                    Phase::Starting,
                    Some("waiting for the agent to be ready".into()),
                )
            }
        }
        (Transition::Start, _) => (Phase::Starting, Some(queue_message(w))),
        (Transition::Unknown, _) => (
            Phase::Failed,
            Some(format!("unknown build state `{}`", b.status.as_str())),
        ),
    }
}

fn queue_message(w: &Workspace) -> String {
    match w.latest_build.job.status {
        JobStatus::Pending => "the build is queued".into(),
        _ => format!("the build is {}", w.latest_build.status.as_str()),
    }
}

impl CoderProvider {
    /// agentbox's record of `w`, from the cache or its latest build's parameters; `None` when
    /// the workspace was not made by agentbox.
    pub(crate) async fn metadata(&self, w: &Workspace) -> Result<Option<WorkspaceMetadata>> {
        if let Some(m) = self.cached(w.id) {
            return Ok(Some(m));
        }
        let parameters = self
            .client()
            .build_parameters(w.latest_build.id)
            .await
            .map_err(|e| e.into_core(&w.id.to_string()))?;
        let found = parameters
            .iter()
            .find(|p| p.name == self.inner.metadata_param)
            .and_then(|p| WorkspaceMetadata::decode(&p.value));
        if let Some(m) = &found {
            self.remember(w.id, m.clone());
        }
        Ok(found)
    }

    /// The [`WorkspaceInfo`] of `w` with its metadata (empty labels and hash when it has none).
    pub(crate) fn info(
        &self,
        w: &Workspace,
        metadata: Option<&WorkspaceMetadata>,
    ) -> WorkspaceInfo {
        let (phase, message) = phase(w);
        WorkspaceInfo {
            id: WorkspaceId(w.id.to_string()),
            name: w.name.clone(),
            backend: BACKEND.to_owned(),
            phase,
            message,
            labels: metadata.map(|m| m.labels.clone()).unwrap_or_default(),
            contract_hash: metadata
                .map(|m| m.contract_hash.clone())
                .unwrap_or_default(),
            created_at: w.created_at,
        }
    }

    /// The workspace, or [`agentbox_core::Error::NotFound`] for an id that is no UUID or names
    /// no live workspace.
    pub(crate) async fn fetch(&self, id: &WorkspaceId) -> Result<Workspace> {
        let not_found = || agentbox_core::Error::NotFound {
            backend: BACKEND,
            workspace: id.to_string(),
        };
        let uuid = uuid::Uuid::parse_str(id.as_str()).map_err(|_| not_found())?;
        match self.client().workspace(uuid).await {
            Ok(w) => Ok(w),
            Err(e) if e.is_gone() => Err(not_found()),
            Err(e) => Err(e.into_core(id.as_str())),
        }
    }
}

/// [`CoderError`] for a failed build, with the log tail already fetched.
pub(crate) fn build_failed(w: &Workspace, log_tail: Vec<String>) -> CoderError {
    let b = &w.latest_build;
    CoderError::BuildFailed {
        build_number: b.build_number,
        transition: b.transition.as_str(),
        status: b.status.as_str(),
        error: b
            .job
            .error
            .clone()
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| "no error given".into()),
        log_tail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace(transition: &str, status: &str, number: i64, agents: &str) -> Workspace {
        serde_json::from_str(&format!(
            r#"{{"id":"11111111-1111-4111-8111-111111111111","name":"w","created_at":"2026-01-01T00:00:00Z",
            "latest_build":{{"id":"22222222-2222-4222-8222-222222222222","build_number":{number},
            "transition":"{transition}","status":"{status}","job":{{"status":"succeeded"}},
            "resources":[{{"agents":[{agents}]}}]}}}}"#
        ))
        .unwrap()
    }

    fn agent(status: &str, lifecycle: &str) -> String {
        format!(
            r#"{{"id":"33333333-3333-4333-8333-333333333333","name":"main","status":"{status}","lifecycle_state":"{lifecycle}"}}"#
        )
    }

    #[test]
    fn phases() {
        let ready = agent("connected", "ready");
        let cases = [
            (workspace("start", "pending", 1, ""), Phase::Pending),
            (workspace("start", "pending", 3, ""), Phase::Starting),
            (workspace("start", "starting", 1, ""), Phase::Starting),
            (workspace("start", "running", 1, &ready), Phase::Running),
            (
                workspace("start", "running", 1, &agent("connected", "starting")),
                Phase::Starting,
            ),
            (
                workspace("start", "running", 1, &agent("connecting", "created")),
                Phase::Starting,
            ),
            (
                workspace("start", "running", 1, &agent("connected", "start_error")),
                Phase::Failed,
            ),
            (workspace("start", "running", 1, ""), Phase::Starting),
            (workspace("stop", "stopping", 2, ""), Phase::Stopping),
            (workspace("stop", "stopped", 2, ""), Phase::Stopped),
            (workspace("start", "failed", 1, ""), Phase::Failed),
            (workspace("delete", "deleting", 3, ""), Phase::Terminating),
        ];
        for (w, want) in cases {
            assert_eq!(phase(&w).0, want, "{:?}", w.latest_build);
        }
    }
}
