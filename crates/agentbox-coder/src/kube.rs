//! Commands through the Kubernetes API instead of the agent's PTY (feature `kube`): when a
//! Coder workspace is a pod the caller can reach, the Che backend's
//! [`KubeExecutor`] runs commands over `pods/exec`, with separate
//! stdout and stderr and exit codes from the kubelet. The pod is found by labels
//! ([`PodSelector`]); the contract's environment and secrets are added to every command.

use std::collections::BTreeMap;
use std::sync::Arc;

use agentbox_che::KubeExecutor;
use agentbox_core::exec::{
    ExecRequest, ExecStream, FileReader, FileSource, FileWritten, OutputStreams, Session,
    SessionCommand, quote,
};
use agentbox_core::provider::WorkspaceId;
use agentbox_core::{Error, Executor, Result};
use async_trait::async_trait;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use secrecy::{ExposeSecret, SecretString};

use crate::CoderProvider;
use crate::error::{BACKEND, backend, invalid_state};
use crate::models::{Transition, Workspace, WorkspaceStatus};

/// How to find a Coder workspace's pod: label values (where `{id}`, `{name}` and `{owner}`
/// stand for the workspace's id, name and owner) and the container to run in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSelector {
    labels: BTreeMap<String, String>,
    container: Option<String>,
}

impl Default for PodSelector {
    /// The labels Coder's Kubernetes templates put on a workspace's pod
    /// (`app.kubernetes.io/name=coder-workspace`, `com.coder.workspace.id=<id>`), and the
    /// container `dev`.
    fn default() -> Self {
        Self::new()
            .label("app.kubernetes.io/name", "coder-workspace")
            .label("com.coder.workspace.id", "{id}")
            .container("dev")
    }
}

impl PodSelector {
    /// A selector with no labels and the pod's first container.
    pub fn new() -> Self {
        Self {
            labels: BTreeMap::new(),
            container: None,
        }
    }

    /// Also require label `key` to be `value` (with `{id}`, `{name}`, `{owner}` replaced).
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Run in this container (default: the pod's first).
    pub fn container(mut self, name: impl Into<String>) -> Self {
        self.container = Some(name.into());
        self
    }

    /// The label selector for `w`; a value that is not a valid label value after replacing
    /// the placeholders (a name with `/`, say) is refused.
    pub fn selector_for(&self, w: &Workspace) -> Result<String> {
        if self.labels.is_empty() {
            return Err(backend(
                "the pod selector has no labels, so it would match every pod; add one".into(),
            ));
        }
        let mut parts = Vec::new();
        for (key, template) in &self.labels {
            let value = template
                .replace("{id}", &w.id.to_string())
                .replace("{name}", &w.name)
                .replace("{owner}", &w.owner_name);
            if !valid_label_value(&value) {
                return Err(backend(format!(
                    "label `{key}` would be `{value}` for workspace `{}`, which is no label value",
                    w.name
                )));
            }
            parts.push(format!("{key}={value}"));
        }
        Ok(parts.join(","))
    }
}

/// A Kubernetes label value: at most 63 characters, alphanumerics with `-`, `_`, `.` inside.
fn valid_label_value(value: &str) -> bool {
    value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && value
            .chars()
            .next()
            .is_none_or(|c| c.is_ascii_alphanumeric())
        && value
            .chars()
            .last()
            .is_none_or(|c| c.is_ascii_alphanumeric())
}

/// Where pods are looked for.
#[derive(Clone)]
pub(crate) struct KubeTarget {
    client: kube::Client,
    namespace: String,
    selector: PodSelector,
}

impl std::fmt::Debug for KubeTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeTarget")
            .field("namespace", &self.namespace)
            .field("selector", &self.selector)
            .finish_non_exhaustive()
    }
}

impl KubeTarget {
    pub(crate) fn new(client: kube::Client, namespace: String, selector: PodSelector) -> Self {
        Self {
            client,
            namespace,
            selector,
        }
    }
}

impl CoderProvider {
    /// A [`KubeExecutor`] in the running pod of workspace `id`, with the contract's
    /// environment and secrets.
    pub(crate) async fn kube_executor(
        &self,
        target: &KubeTarget,
        id: &WorkspaceId,
    ) -> Result<Arc<dyn Executor>> {
        let w = self.fetch(id).await?;
        let b = &w.latest_build;
        if b.transition != Transition::Start || b.status != WorkspaceStatus::Running {
            return Err(invalid_state(
                id.as_str(),
                b.status.as_str(),
                "run commands",
            ));
        }
        let metadata = self.metadata(&w).await?.ok_or_else(|| {
            backend(format!(
                "workspace `{}` has no agentbox metadata, so it was not made by agentbox",
                w.name
            ))
        })?;
        let selector = target.selector.selector_for(&w)?;
        let pods: Api<Pod> = Api::namespaced(target.client.clone(), &target.namespace);
        let list = pods
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| Error::Backend {
                backend: BACKEND,
                message: format!(
                    "listing pods `{selector}` in namespace `{}` for workspace `{}` failed",
                    target.namespace, w.name
                ),
                source: Some(Box::new(e)),
            })?;
        let pod = list
            .items
            .iter()
            .find(|p| {
                p.metadata.deletion_timestamp.is_none()
                    && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            })
            .ok_or_else(|| {
                invalid_state(
                    id.as_str(),
                    format!(
                        "running in Coder, but no running pod in namespace `{}` matches `{selector}`",
                        target.namespace
                    ),
                    "run commands",
                )
            })?;
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let container = match &target.selector.container {
            Some(c) => c.clone(),
            None => pod
                .spec
                .as_ref()
                .and_then(|s| s.containers.first())
                .map(|c| c.name.clone())
                .ok_or_else(|| backend(format!("pod `{pod_name}` has no containers")))?,
        };
        let secrets = self.resolve_secrets(id.as_str(), &metadata.secrets).await?;
        let inner = KubeExecutor::new(
            target.client.clone(),
            &target.namespace,
            &pod_name,
            &container,
            &metadata.workdir,
            &metadata.root,
        )
        .workspace_name(id.to_string())
        .progress(self.inner_progress());
        tracing::debug!(pod = %pod_name, container = %container, "commands go through pods/exec");
        Ok(Arc::new(WithEnvironment {
            inner,
            env: metadata.env.clone(),
            secrets,
        }))
    }
}

/// A [`KubeExecutor`] that gives every command the contract's environment and secrets.
#[derive(Debug)]
struct WithEnvironment {
    inner: KubeExecutor,
    env: BTreeMap<String, String>,
    secrets: Vec<(String, SecretString)>,
}

#[async_trait]
impl Executor for WithEnvironment {
    fn workspace(&self) -> &str {
        self.inner.workspace()
    }

    fn output_streams(&self) -> OutputStreams {
        self.inner.output_streams()
    }

    async fn exec_stream(&self, mut request: ExecRequest) -> Result<ExecStream> {
        for (k, v) in &self.env {
            request.env.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (k, v) in &self.secrets {
            if !request.env.contains_key(k) {
                request
                    .secret_env
                    .entry(k.clone())
                    .or_insert_with(|| v.clone());
            }
        }
        self.inner.exec_stream(request).await
    }

    async fn write_file(&self, path: &str, content: FileSource) -> Result<FileWritten> {
        self.inner.write_file(path, content).await
    }

    async fn read_file(&self, path: &str) -> Result<FileReader> {
        self.inner.read_file(path).await
    }

    async fn session(&self) -> Result<Box<dyn Session>> {
        let mut session = self.inner.session().await?;
        let exports: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .chain(
                self.secrets
                    .iter()
                    .map(|(k, v)| (k.clone(), v.expose_secret().to_owned())),
            )
            .map(|(k, v)| format!("export {}", quote(&format!("{k}={v}"))))
            .collect();
        if !exports.is_empty() {
            let setup = SecretString::from(exports.join("\n"));
            let out = session
                .run(&SessionCommand::script(setup.expose_secret()))
                .await?;
            if !out.exit.success() {
                return Err(backend(format!(
                    "setting the contract's environment in a session of workspace `{}` failed ({})",
                    self.inner.workspace(),
                    out.exit
                )));
            }
        }
        Ok(session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> Workspace {
        serde_json::from_str(
            r#"{"id":"11111111-1111-4111-8111-111111111111","name":"demo-1","owner_name":"alice",
            "created_at":"2026-01-01T00:00:00Z","latest_build":{"id":"22222222-2222-4222-8222-222222222222",
            "transition":"start","status":"running","job":{"status":"succeeded"}}}"#,
        )
        .unwrap()
    }

    #[test]
    fn the_default_selects_coder_kubernetes_template_labels() {
        assert_eq!(
            PodSelector::default().selector_for(&workspace()).unwrap(),
            "app.kubernetes.io/name=coder-workspace,com.coder.workspace.id=11111111-1111-4111-8111-111111111111"
        );
    }

    #[test]
    fn placeholders_are_replaced_and_bad_values_refused() {
        let s = PodSelector::new()
            .label("com.coder.workspace.name", "{name}")
            .label("com.coder.user.username", "{owner}");
        assert_eq!(
            s.selector_for(&workspace()).unwrap(),
            "com.coder.user.username=alice,com.coder.workspace.name=demo-1"
        );
        let bad = PodSelector::new().label("x", "{name}/oops");
        assert!(bad.selector_for(&workspace()).is_err());
        assert!(PodSelector::new().selector_for(&workspace()).is_err());
    }
}
