//! [`CoderProvider`]: agentbox workspaces as Coder workspaces made from one template.

mod builder;
mod builds;
mod context;
mod create;
mod executor;
mod info;
mod ready;

pub use builder::CoderProviderBuilder;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use agentbox_core::progress::{Progress, ProgressEvent};
use agentbox_core::provider::{
    Capabilities, CreateRequest, LabelSelector, Phase, WorkspaceId, WorkspaceInfo,
};
use agentbox_core::secrets::SecretSource;
use agentbox_core::{Contract, Error, Executor, Result, WorkspaceProvider};
use async_trait::async_trait;
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tracing::Instrument;
use uuid::Uuid;

use crate::client::CoderClient;
use crate::error::BACKEND;
use crate::models::{Transition, Workspace, WorkspaceStatus};
use crate::params::{ContractParameters, ParameterValue, WorkspaceMetadata};
use crate::pty::PtyOutput;
use builds::{Seen, deleting, starting, stopping};
use context::Context;
use create::requested_name;

/// Workspaces on a Coder deployment, made from one template (see `docs/coder-template.md` for
/// what the template must declare).
///
/// Coder workspaces have no labels, so agentbox keeps its labels, the contract hash and where
/// commands run in an immutable template parameter (default `agentbox_metadata`) that it sets
/// on create and reads back from the latest build's parameters (cached per workspace).
/// Creating a workspace queues its first build at once, so a new workspace is `pending` and
/// `start` finds it on its way. Stopping keeps what the template keeps (a persistent volume
/// in the agentbox template). Commands run through the agent's PTY ([`crate::CoderPtyExecutor`]).
/// Clones share state.
#[derive(Clone)]
pub struct CoderProvider {
    inner: Arc<Inner>,
}

struct Inner {
    client: CoderClient,
    template: String,
    organization: Option<String>,
    user: String,
    agent: Option<String>,
    parameters: BTreeMap<String, ParameterValue>,
    mapping: ContractParameters,
    metadata_param: String,
    secrets: Arc<dyn SecretSource>,
    progress: Progress,
    output: PtyOutput,
    terminal: (u16, u16),
    build_timeout: Duration,
    context: OnceCell<Context>,
    metadata: Mutex<HashMap<Uuid, WorkspaceMetadata>>,
    #[cfg(feature = "kube")]
    kube: Option<crate::kube::KubeTarget>,
}

impl fmt::Debug for CoderProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("CoderProvider")
            .field("client", &i.client)
            .field("template", &i.template)
            .field("organization", &i.organization)
            .field("agent", &i.agent)
            .field("parameters", &i.parameters)
            .field("metadata_param", &i.metadata_param)
            .field("secrets", &i.secrets)
            .finish_non_exhaustive()
    }
}

fn span(id: &str) -> tracing::Span {
    tracing::info_span!("workspace", backend = BACKEND, workspace = %id)
}

impl CoderProvider {
    /// A builder for a provider of workspaces made from `template` through `client`.
    pub fn builder(client: CoderClient, template: impl Into<String>) -> CoderProviderBuilder {
        CoderProviderBuilder::new(client, template.into())
    }

    /// The client.
    pub fn client(&self) -> &CoderClient {
        &self.inner.client
    }

    /// The template workspaces are made from.
    pub fn template(&self) -> &str {
        &self.inner.template
    }

    #[cfg(feature = "kube")]
    pub(crate) fn inner_progress(&self) -> Progress {
        self.inner.progress.clone()
    }

    pub(crate) fn cached(&self, id: Uuid) -> Option<WorkspaceMetadata> {
        self.lock_metadata().get(&id).cloned()
    }

    pub(crate) fn remember(&self, id: Uuid, metadata: WorkspaceMetadata) {
        self.lock_metadata().insert(id, metadata);
    }

    fn forget(&self, id: Uuid) {
        self.lock_metadata().remove(&id);
    }

    fn lock_metadata(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, WorkspaceMetadata>> {
        self.inner
            .metadata
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn warn(&self, workspace: &str, message: String) {
        tracing::warn!(workspace, "{message}");
        self.inner.progress.emit(ProgressEvent::Warning {
            backend: BACKEND,
            workspace: Some(workspace.to_owned()),
            message,
        });
    }

    /// Wait until the latest build of `w` (a stop or delete) is done; `true` when gone.
    async fn finish_build(&self, w: &Workspace, what: &str) -> Result<bool> {
        let limit = self.inner.build_timeout;
        let seen = self
            .watch_until(w.id, Instant::now() + limit, limit, what, |w| {
                let b = &w.latest_build;
                (!b.status.is_active()).then(|| w.clone())
            })
            .await?;
        match seen {
            Seen::Gone => Ok(true),
            Seen::Done(w) => match w.latest_build.status {
                WorkspaceStatus::Failed | WorkspaceStatus::Canceled => {
                    Err(self.build_failure(&w).await)
                }
                WorkspaceStatus::Deleted => Ok(true),
                _ => Ok(false),
            },
        }
    }
}

#[async_trait]
impl WorkspaceProvider for CoderProvider {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            separate_streams: false,
            persistent_session: true,
            suspend_keeps_storage: true,
            watch: true,
            isolated: true,
            egress_rules: false,
        }
    }

    async fn create(&self, contract: &Contract, request: CreateRequest) -> Result<WorkspaceInfo> {
        let name = requested_name(contract, &request);
        self.create_impl(contract, request, &name)
            .instrument(span(&name))
            .await
    }

    async fn start(&self, id: &WorkspaceId) -> Result<()> {
        async {
            let w = self.fetch(id).await?;
            match self.request(w, Transition::Start, starting).await? {
                Some(w) => {
                    let (phase, message) = info::phase(&w);
                    self.emit_phase(id.as_str(), Some(phase), message);
                    Ok(())
                }
                None => Err(Error::NotFound {
                    backend: BACKEND,
                    workspace: id.to_string(),
                }),
            }
        }
        .instrument(span(id.as_str()))
        .await
    }

    async fn stop(&self, id: &WorkspaceId) -> Result<()> {
        async {
            let w = self.fetch(id).await?;
            let Some(w) = self.request(w, Transition::Stop, stopping).await? else {
                return Err(Error::NotFound {
                    backend: BACKEND,
                    workspace: id.to_string(),
                });
            };
            self.emit_phase(id.as_str(), Some(Phase::Stopping), None);
            if self.finish_build(&w, "stopping").await? {
                return Err(Error::NotFound {
                    backend: BACKEND,
                    workspace: id.to_string(),
                });
            }
            self.emit_phase(id.as_str(), Some(Phase::Stopped), None);
            tracing::info!("workspace stopped");
            Ok(())
        }
        .instrument(span(id.as_str()))
        .await
    }

    async fn delete(&self, id: &WorkspaceId) -> Result<()> {
        async {
            let w = match self.fetch(id).await {
                Ok(w) => w,
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) => return Err(e),
            };
            let uuid = w.id;
            if let Some(w) = self.request(w, Transition::Delete, deleting).await? {
                self.emit_phase(id.as_str(), Some(Phase::Terminating), None);
                self.finish_build(&w, "deleting").await?;
            }
            self.forget(uuid);
            self.emit_phase(id.as_str(), None, None);
            tracing::info!("workspace deleted");
            Ok(())
        }
        .instrument(span(id.as_str()))
        .await
    }

    async fn status(&self, id: &WorkspaceId) -> Result<WorkspaceInfo> {
        let w = self.fetch(id).await?;
        if w.latest_build.status == WorkspaceStatus::Deleted {
            return Err(Error::NotFound {
                backend: BACKEND,
                workspace: id.to_string(),
            });
        }
        let metadata = self.metadata(&w).await?;
        Ok(self.info(&w, metadata.as_ref()))
    }

    async fn list(&self, selector: &LabelSelector) -> Result<Vec<WorkspaceInfo>> {
        let ctx = self.context().await?;
        let query = format!(
            "owner:{} template:{}",
            ctx.user.username, self.inner.template
        );
        let workspaces = self
            .client()
            .workspaces(&query)
            .await
            .map_err(|e| e.into_core("-"))?;
        let mut found = Vec::new();
        for w in workspaces {
            if w.latest_build.status == WorkspaceStatus::Deleted {
                continue;
            }
            let Some(metadata) = self.metadata(&w).await? else {
                continue;
            };
            if selector.matches(&metadata.labels) {
                found.push(self.info(&w, Some(&metadata)));
            }
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    async fn wait_ready(&self, id: &WorkspaceId, timeout: Duration) -> Result<WorkspaceInfo> {
        self.wait_ready_impl(id, timeout)
            .instrument(span(id.as_str()))
            .await
    }

    async fn executor(&self, id: &WorkspaceId) -> Result<Arc<dyn Executor>> {
        #[cfg(feature = "kube")]
        if let Some(kube) = &self.inner.kube {
            return self.kube_executor(kube, id).await;
        }
        Ok(Arc::new(self.pty_executor(id).await?))
    }
}
