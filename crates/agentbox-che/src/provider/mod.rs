//! [`CheProvider`]: workspaces as DevWorkspaces in one namespace, reconciled by the
//! DevWorkspace Operator; commands through [`KubeExecutor`].

mod attach;
mod builder;
mod calls;
mod info;
mod judge;
mod limitations;
pub(crate) mod manifest;
pub(crate) mod pod;
mod wait;

pub use builder::CheProviderBuilder;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use agentbox_core::contract::DnsLabel;
use agentbox_core::progress::{Progress, ProgressEvent};
use agentbox_core::provider::{
    Capabilities, CreateRequest, LabelSelector, WorkspaceId, WorkspaceInfo, default_workspace_name,
};
use agentbox_core::{Contract, Error, Executor, Result, WorkspaceProvider};
use async_trait::async_trait;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams};
use tracing::Instrument;

use crate::api::RetryPolicy;
use crate::cache::{MANAGED_SELECTOR, WorkspaceCache};
use crate::crd::{DevWorkspace, DevWorkspacePhase};
use crate::error::{ApiAction, BACKEND};
use info::workspace_info;
use wait::Baseline;

/// Workspaces as Eclipse Che DevWorkspaces in one namespace.
///
/// Clones share one client and one watch of the namespace (started on first need), through
/// which every wait — for a start, a stop, a deletion — is woken, however many workspaces
/// there are.
#[derive(Clone)]
pub struct CheProvider {
    inner: Arc<Inner>,
}

struct Inner {
    client: kube::Client,
    namespace: String,
    api: Api<DevWorkspace>,
    pods: Api<Pod>,
    policy: RetryPolicy,
    operation_timeout: Duration,
    progress: Progress,
    cache: OnceLock<Arc<WorkspaceCache>>,
    /// How far each workspace had got when this process last started or stopped it.
    baselines: Mutex<HashMap<String, Baseline>>,
}

impl fmt::Debug for CheProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheProvider")
            .field("namespace", &self.inner.namespace)
            .field("policy", &self.inner.policy)
            .field("operation_timeout", &self.inner.operation_timeout)
            .finish_non_exhaustive()
    }
}

impl CheProvider {
    /// A builder; see [`CheProviderBuilder`] for the defaults.
    pub fn builder() -> CheProviderBuilder {
        CheProviderBuilder::default()
    }

    /// A provider for `namespace` through `client`, with default settings.
    pub fn new(client: kube::Client, namespace: impl Into<String>) -> Self {
        Self::assemble(
            client,
            namespace.into(),
            Progress::none(),
            RetryPolicy::default(),
            Duration::from_secs(300),
        )
    }

    fn assemble(
        client: kube::Client,
        namespace: String,
        progress: Progress,
        policy: RetryPolicy,
        operation_timeout: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                api: Api::namespaced(client.clone(), &namespace),
                pods: Api::namespaced(client.clone(), &namespace),
                client,
                namespace,
                policy,
                operation_timeout,
                progress,
                cache: OnceLock::new(),
                baselines: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The namespace the workspaces live in.
    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// Everything `contract` asks that a DevWorkspace cannot enforce or this provider does not
    /// apply; [`WorkspaceProvider::create`] reports each as a [`ProgressEvent::Warning`].
    pub fn limitations(&self, contract: &Contract) -> Vec<String> {
        limitations::limitations(contract, &self.inner.namespace)
    }

    /// The shared watch of the namespace, started on first use.
    fn cache(&self) -> Arc<WorkspaceCache> {
        Arc::clone(
            self.inner.cache.get_or_init(|| {
                WorkspaceCache::start(self.inner.api.clone(), &self.inner.namespace)
            }),
        )
    }

    fn action(&self, verb: &'static str, name: &str) -> ApiAction {
        ApiAction::new(verb, "devworkspaces", &self.inner.namespace).named(name)
    }

    fn warn(&self, name: &str, message: String) {
        tracing::warn!(workspace = name, "{message}");
        self.inner.progress.emit(ProgressEvent::Warning {
            backend: BACKEND,
            workspace: Some(name.to_owned()),
            message,
        });
    }
}

fn span(id: &str) -> tracing::Span {
    tracing::info_span!("workspace", backend = BACKEND, workspace = %id)
}

#[async_trait]
impl WorkspaceProvider for CheProvider {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    /// Streams are separate and sessions persistent (pods/exec without a TTY); stopping keeps
    /// storage (unless the contract's storage is ephemeral); readiness is watched; commands run
    /// in the workspace's container. Egress rules are not applied by this provider: the
    /// generated NetworkPolicy has to be applied (see [`CheProvider::limitations`]).
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            separate_streams: true,
            persistent_session: true,
            suspend_keeps_storage: true,
            watch: true,
            isolated: true,
            egress_rules: false,
        }
    }

    async fn create(&self, contract: &Contract, request: CreateRequest) -> Result<WorkspaceInfo> {
        let name = match &request.name {
            Some(name) => name
                .parse::<DnsLabel>()
                .map_err(|e| Error::Refused {
                    backend: BACKEND,
                    message: format!("invalid workspace name: {e}"),
                })?
                .to_string(),
            None => default_workspace_name(contract),
        };
        async {
            let dw = manifest::devworkspace_for(contract, &request, &name)
                .map_err(|e| e.into_core(&name))?;
            let created = self.create_object(&name, dw).await?;
            for limitation in self.limitations(contract) {
                self.warn(&name, limitation);
            }
            let info = workspace_info(&created);
            self.emit_phase(&name, Some(info.phase), None);
            tracing::info!(uid = ?created.uid(), "DevWorkspace created");
            Ok(info)
        }
        .instrument(span(&name))
        .await
    }

    /// Set `spec.started: true`. Starting a failed workspace retries it (the operator had set
    /// `started` back to false).
    async fn start(&self, id: &WorkspaceId) -> Result<()> {
        let name = id.as_str();
        async {
            let patched = self.patch_started(name, true, "start").await?;
            if patched.phase() == Some(&DevWorkspacePhase::Failing) {
                // The operator is about to set `started` back to false, undoing this start:
                // let it, then start again.
                self.wait_for(
                    name,
                    self.inner.operation_timeout,
                    "the failed start to settle",
                    |seen| judge::settled(name, seen),
                )
                .await?;
                self.patch_started(name, true, "start").await?;
            }
            tracing::info!("start requested");
            Ok(())
        }
        .instrument(span(name))
        .await
    }

    /// Set `spec.started: false` and wait (up to the operation timeout) until the operator has
    /// scaled the workspace down; its storage is kept.
    async fn stop(&self, id: &WorkspaceId) -> Result<()> {
        let name = id.as_str();
        async {
            let patched = self.patch_started(name, false, "stop").await?;
            let base = Baseline::of(&patched);
            let uid = patched.uid();
            self.wait_for(name, self.inner.operation_timeout, "stopping", |seen| {
                judge::stopped(name, seen, base, uid.as_deref())
            })
            .await?;
            tracing::info!("stopped");
            Ok(())
        }
        .instrument(span(name))
        .await
    }

    /// Delete the DevWorkspace and wait (up to the operation timeout) until it is gone,
    /// finalizers (`Terminating`) included. Deleting one that does not exist succeeds.
    async fn delete(&self, id: &WorkspaceId) -> Result<()> {
        let name = id.as_str();
        async {
            let api = &self.inner.api;
            let params = DeleteParams::default();
            let uid = match self
                .inner
                .policy
                .call(self.action("delete", name), || api.delete(name, &params))
                .await
            {
                Ok(either) => either.left().and_then(|dw| dw.uid()),
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) => return Err(e.into_core(name)),
            };
            self.wait_for(
                name,
                self.inner.operation_timeout,
                "being deleted",
                |seen| judge::gone(name, seen, uid.as_deref()),
            )
            .await?;
            self.inner
                .baselines
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(name);
            tracing::info!("deleted");
            Ok(())
        }
        .instrument(span(name))
        .await
    }

    async fn status(&self, id: &WorkspaceId) -> Result<WorkspaceInfo> {
        match self.fetch(id.as_str()).await? {
            Some(dw) => Ok(workspace_info(&dw)),
            None => Err(Error::NotFound {
                backend: BACKEND,
                workspace: id.to_string(),
            }),
        }
    }

    async fn list(&self, selector: &LabelSelector) -> Result<Vec<WorkspaceInfo>> {
        let mut query = MANAGED_SELECTOR.to_owned();
        if !selector.equals.is_empty() {
            query.push(',');
            query.push_str(&selector.to_query());
        }
        let params = ListParams::default().labels(&query);
        let api = &self.inner.api;
        let action = ApiAction::new("list", "devworkspaces", &self.inner.namespace);
        let listed = self
            .inner
            .policy
            .call(action, || api.list(&params))
            .await
            .map_err(|e| e.into_core("*"))?;
        let mut found: Vec<WorkspaceInfo> = listed.items.iter().map(workspace_info).collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    /// Wait through the shared watch until the workspace runs, failing as soon as the operator
    /// reports a failure (with its message) or the workspace is not started at all.
    async fn wait_ready(&self, id: &WorkspaceId, timeout: Duration) -> Result<WorkspaceInfo> {
        let name = id.as_str();
        let base = self.baseline(name);
        self.wait_for(name, timeout, "waiting to be running", |seen| {
            judge::ready(name, seen, base)
        })
        .instrument(span(name))
        .await
    }

    async fn executor(&self, id: &WorkspaceId) -> Result<Arc<dyn Executor>> {
        let name = id.as_str();
        let executor = self.executor_for(name).instrument(span(name)).await?;
        Ok(Arc::new(executor))
    }
}
