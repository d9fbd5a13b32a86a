//! An executor for a running workspace: its pod, its container, its workdir, and a guard that
//! refuses work once the shared watch sees the workspace stopped, deleted or replaced.

use std::sync::Arc;

use agentbox_core::provider::Phase;
use agentbox_core::{Error, Result};
use kube::ResourceExt;

use super::wait::Baseline;
use super::{CheProvider, info, judge, manifest, pod};
use crate::error::{BACKEND, CheError, invalid_state};
use crate::exec::KubeExecutor;

impl CheProvider {
    /// The executor of workspace `name`, which must be running: its pod is looked up once
    /// (one LIST), and its workdir created if it does not exist yet.
    pub(super) async fn executor_for(&self, name: &str) -> Result<KubeExecutor> {
        let Some(fresh) = self.fetch(name).await? else {
            return Err(Error::NotFound {
                backend: BACKEND,
                workspace: name.to_owned(),
            });
        };
        let now = info::phase(&fresh);
        if now != Phase::Running || !fresh.spec.started {
            return Err(invalid_state(name, now, "run commands"));
        }
        // The guard reads the shared watch: let it catch up with what the GET saw.
        let base = Baseline::of(&fresh);
        let uid = fresh.uid();
        self.wait_for(
            name,
            self.inner.policy.call_timeout,
            "being seen running by the watch",
            |seen| judge::seen_running(name, seen, base, uid.as_deref()),
        )
        .await?;
        let id = fresh.devworkspace_id().unwrap_or_default().to_owned();
        let component = manifest::container_component(&fresh)
            .ok_or_else(|| invalid_state(name, "without a container component", "run commands"))?;
        let root = component
            .container
            .as_ref()
            .and_then(|c| c.source_mapping.clone())
            .unwrap_or_else(|| agentbox_core::contract::DEFAULT_MOUNT_PATH.to_owned());
        let workdir = fresh
            .annotations()
            .get(manifest::WORKDIR_ANNOTATION)
            .cloned()
            .unwrap_or_else(|| root.clone());
        let pod = pod::running_pod(
            &self.inner.pods,
            &self.inner.policy,
            &self.inner.namespace,
            &id,
            &component.name,
        )
        .await
        .map_err(|e| match e {
            CheError::NoPod { .. } => {
                invalid_state(name, format!("running, but {e}"), "run commands")
            }
            other => other.into_core(name),
        })?;
        let cache = self.cache();
        let guarded = name.to_owned();
        let guard = move || judge::guard(&guarded, cache.get(&guarded).as_deref(), uid.as_deref());
        let executor = KubeExecutor::new(
            self.inner.client.clone(),
            &self.inner.namespace,
            &pod,
            &component.name,
            &workdir,
            &root,
        )
        .workspace_name(name)
        .progress(self.inner.progress.clone())
        .retry_policy(self.inner.policy)
        .guard(Arc::new(guard));
        executor.ensure_workdir().await?;
        Ok(executor)
    }
}
