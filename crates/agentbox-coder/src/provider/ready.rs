//! Readiness: the latest build is a start build that is `running`, and every agent is
//! `connected` with lifecycle `ready`. A failed or canceled build, or an agent whose startup
//! ended in `start_error`/`start_timeout`, fails the wait with the end of the build's (or the
//! agent's startup) log.

use std::time::Duration;

use agentbox_core::progress::ProgressEvent;
use agentbox_core::provider::{Phase, WorkspaceId, WorkspaceInfo};
use agentbox_core::{Error, Result};
use tokio::time::Instant;
use uuid::Uuid;

use super::CoderProvider;
use super::builds::Seen;
use super::info::{agents_ready, build_failed, failed_agent};
use crate::error::{BACKEND, CoderError};
use crate::models::{Transition, Workspace, WorkspaceStatus};

/// Log lines kept in a failure.
const TAIL: usize = 20;
/// How long fetching a failure's log may take.
const LOG_WAIT: Duration = Duration::from_secs(10);

/// How a wait ended.
enum Verdict {
    Ready(Workspace),
    BuildFailed(Workspace),
    AgentFailed(Workspace),
    Stopped(Workspace),
}

impl CoderProvider {
    pub(crate) async fn wait_ready_impl(
        &self,
        id: &WorkspaceId,
        timeout: Duration,
    ) -> Result<WorkspaceInfo> {
        let not_found = || Error::NotFound {
            backend: BACKEND,
            workspace: id.to_string(),
        };
        let uuid = Uuid::parse_str(id.as_str()).map_err(|_| not_found())?;
        let seen = self
            .watch_until(
                uuid,
                Instant::now() + timeout,
                timeout,
                "waiting to be ready",
                readiness,
            )
            .await?;
        let verdict = match seen {
            Seen::Done(v) => v,
            Seen::Gone => return Err(not_found()),
        };
        match verdict {
            Verdict::Ready(w) => {
                let metadata = self.metadata(&w).await?;
                let info = self.info(&w, metadata.as_ref());
                self.emit_phase(info.id.as_str(), Some(Phase::Running), None);
                tracing::info!(workspace = %info.id, "workspace ready");
                Ok(info)
            }
            Verdict::BuildFailed(w) => Err(self.build_failure(&w).await),
            Verdict::AgentFailed(w) => Err(self.agent_failure(&w).await),
            Verdict::Stopped(w) => Err(crate::error::invalid_state(
                id.as_str(),
                w.latest_build.status.as_str(),
                "wait until it is ready (start it first)",
            )),
        }
    }

    /// [`Error::WorkspaceFailed`] for a failed build, with its log's tail.
    pub(crate) async fn build_failure(&self, w: &Workspace) -> Error {
        let tail = match tokio::time::timeout(LOG_WAIT, self.client().build_logs(w.latest_build.id))
            .await
        {
            Ok(Ok(logs)) => tail(logs.into_iter().map(|l| l.output)),
            _ => Vec::new(),
        };
        let error = build_failed(w, tail);
        self.emit_phase(
            &w.id.to_string(),
            Some(Phase::Failed),
            Some(error.to_string()),
        );
        error.into_core(&w.id.to_string())
    }

    async fn agent_failure(&self, w: &Workspace) -> Error {
        let Some((agent, lifecycle)) = failed_agent(w) else {
            return self.build_failure(w).await;
        };
        let tail = match tokio::time::timeout(LOG_WAIT, self.client().agent_logs(agent.id)).await {
            Ok(Ok(logs)) => tail(logs.into_iter().map(|l| l.output)),
            _ => Vec::new(),
        };
        let error = CoderError::AgentFailed {
            agent: agent.name.clone(),
            lifecycle: lifecycle.as_str(),
            log_tail: tail,
        };
        self.emit_phase(
            &w.id.to_string(),
            Some(Phase::Failed),
            Some(error.to_string()),
        );
        error.into_core(&w.id.to_string())
    }

    pub(crate) fn emit_phase(&self, id: &str, phase: Option<Phase>, message: Option<String>) {
        self.inner.progress.emit(ProgressEvent::Workspace {
            backend: BACKEND,
            workspace: id.to_owned(),
            phase,
            message,
        });
    }
}

/// Whether a watched state ends the wait for readiness.
fn readiness(w: &Workspace) -> Option<Verdict> {
    let b = &w.latest_build;
    match (b.transition, b.status) {
        (_, WorkspaceStatus::Failed | WorkspaceStatus::Canceled) => {
            Some(Verdict::BuildFailed(w.clone()))
        }
        (Transition::Start, WorkspaceStatus::Running) if failed_agent(w).is_some() => {
            Some(Verdict::AgentFailed(w.clone()))
        }
        (Transition::Start, WorkspaceStatus::Running) if agents_ready(w) => {
            Some(Verdict::Ready(w.clone()))
        }
        (Transition::Stop | Transition::Delete, status) if !status.is_active() => {
            Some(Verdict::Stopped(w.clone()))
        }
        _ => None,
    }
}

/// The last [`TAIL`] non-empty lines.
fn tail(lines: impl Iterator<Item = String>) -> Vec<String> {
    let all: Vec<String> = lines
        .flat_map(|l| l.lines().map(str::to_owned).collect::<Vec<_>>())
        .filter(|l| !l.trim().is_empty())
        .collect();
    all[all.len().saturating_sub(TAIL)..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_lines() {
        let lines = (0..30).map(|i| format!("line {i}\n"));
        let t = tail(lines);
        assert_eq!(t.len(), TAIL);
        assert_eq!(t.last().unwrap(), "line 29");
    }
}
