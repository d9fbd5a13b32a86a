//! The executor of a running workspace: its agent's PTY, with agentbox's record of where
//! commands run and the contract's secrets.

use agentbox_core::Result;
use agentbox_core::provider::WorkspaceId;

use super::CoderProvider;
use crate::error::{CoderError, invalid_state};
use crate::models::{AgentStatus, Transition, Workspace, WorkspaceAgent, WorkspaceStatus};
use crate::pty::{CoderPtyExecutor, PtyContext, PtyTarget};

impl CoderProvider {
    /// The agent commands run in: the one named by the builder, else the first top-level one.
    fn agent<'w>(&self, w: &'w Workspace) -> Result<&'w WorkspaceAgent> {
        let mut agents = w.latest_build.agents();
        let found = match &self.inner.agent {
            Some(name) => agents.find(|a| &a.name == name),
            None => {
                let all: Vec<&WorkspaceAgent> = agents.collect();
                all.iter()
                    .find(|a| a.parent_id.is_none())
                    .or(all.first())
                    .copied()
            }
        };
        found.ok_or_else(|| {
            CoderError::NoAgent {
                agent: self.inner.agent.clone(),
            }
            .into_core(&w.id.to_string())
        })
    }

    /// The concrete executor of a running workspace: what [`agentbox_core::WorkspaceProvider::executor`]
    /// returns (unless commands go through Kubernetes).
    pub async fn pty_executor(&self, id: &WorkspaceId) -> Result<CoderPtyExecutor> {
        let w = self.fetch(id).await?;
        let b = &w.latest_build;
        if b.transition != Transition::Start || b.status != WorkspaceStatus::Running {
            return Err(invalid_state(
                id.as_str(),
                b.status.as_str(),
                "run commands",
            ));
        }
        let agent = self.agent(&w)?;
        if agent.status != AgentStatus::Connected {
            return Err(invalid_state(
                id.as_str(),
                format!("running, but agent `{}` is not connected", agent.name),
                "run commands",
            ));
        }
        let metadata = self.metadata(&w).await?.ok_or_else(|| {
            CoderError::TemplateUnsuitable {
                template: w.template_name.clone(),
                why: format!(
                    "workspace `{}` has no agentbox metadata in `{}`, so it was not made by agentbox",
                    w.name, self.inner.metadata_param
                ),
            }
            .into_core(id.as_str())
        })?;
        let secrets = self.resolve_secrets(id.as_str(), &metadata.secrets).await?;
        let (width, height) = self.inner.terminal;
        Ok(CoderPtyExecutor::new(PtyContext {
            workspace: w.id,
            id: id.to_string(),
            target: PtyTarget {
                client: self.client().clone(),
                agent: agent.id,
                width,
                height,
            },
            root: metadata.root.clone(),
            workdir: metadata.workdir.clone(),
            env: metadata.env.clone(),
            secrets,
            output: self.inner.output,
            progress: self.inner.progress.clone(),
        }))
    }
}
