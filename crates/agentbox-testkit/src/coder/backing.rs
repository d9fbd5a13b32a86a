//! [`Backing`]: each fake Coder workspace is a workspace of an `agentbox-local` provider, so
//! its commands run in a bubblewrap sandbox with its persistent directory at the mount path.
//! Starting creates it on first use; stopping keeps its files; deleting removes them.
//!
//! Three parameter names stand in for what a template's Terraform would do with them, when a
//! template declares them: `workdir` (a directory under the mount path, created at the first
//! start and used as the agent's directory), `repo` and `repo_revision` (cloned into it on the
//! host at the first start).

use agentbox_core::contract::{Contract, LoadOptions};
use std::collections::BTreeMap;

use agentbox_core::provider::{CreateRequest, Project, WorkspaceId, WorkspaceProvider};
use agentbox_core::{Error, Result};
use agentbox_local::{LocalExecutor, LocalProvider};
use serde_json::json;

/// The parameter naming the agent's directory.
pub(crate) const WORKDIR: &str = "workdir";
/// The parameters naming a repository to clone, and its revision.
const REPO: &str = "repo";
const REPO_REVISION: &str = "repo_revision";

#[derive(Debug)]
pub(crate) struct Backing {
    provider: LocalProvider,
    mount_path: String,
}

impl Backing {
    pub fn new(provider: LocalProvider, mount_path: String) -> Self {
        Self {
            provider,
            mount_path,
        }
    }

    pub fn provider(&self) -> &LocalProvider {
        &self.provider
    }

    /// The contract of a backing workspace: storage at the mount path, the working directory
    /// there or at `workdir`. Built as JSON, which the YAML loader reads, so no text is spliced
    /// into YAML.
    fn contract(&self, local: &WorkspaceId, workdir: &str) -> Result<Contract> {
        let document = json!({
            "apiVersion": "agentbox.dev/v1alpha1",
            "kind": "Environment",
            "metadata": { "name": local.as_str() },
            "spec": {
                "image": "codercom/enterprise-base:ubuntu",
                "workdir": workdir,
                "storage": { "type": "per-workspace", "mountPath": self.mount_path },
            },
        });
        Contract::from_yaml(&document.to_string(), &LoadOptions::default())
    }

    /// Create the local workspace if it does not exist yet (with the `workdir`, `repo` and
    /// `repo_revision` of `parameters`), and start it.
    pub async fn start(
        &self,
        local: &WorkspaceId,
        parameters: &BTreeMap<String, String>,
    ) -> Result<()> {
        let given = |name: &str| parameters.get(name).filter(|v| !v.is_empty());
        match self.provider.status(local).await {
            Ok(_) => {}
            Err(Error::NotFound { .. }) => {
                let workdir = given(WORKDIR).map_or(self.mount_path.as_str(), String::as_str);
                let contract = self.contract(local, workdir)?;
                let mut request = CreateRequest::named(local.as_str());
                if let Some(url) = given(REPO) {
                    request = request.project(Project {
                        url: url.clone(),
                        revision: given(REPO_REVISION).cloned(),
                    });
                }
                self.provider.create(&contract, request).await?;
            }
            Err(e) => return Err(e),
        }
        self.provider.start(local).await
    }

    /// Stop the local workspace (nothing to do when it was never started).
    pub async fn stop(&self, local: &WorkspaceId) -> Result<()> {
        match self.provider.stop(local).await {
            Err(Error::NotFound { .. }) => Ok(()),
            other => other,
        }
    }

    /// Delete the local workspace and its files.
    pub async fn delete(&self, local: &WorkspaceId) -> Result<()> {
        self.provider.delete(local).await
    }

    /// The executor of a running local workspace.
    pub async fn executor(&self, local: &WorkspaceId) -> Result<LocalExecutor> {
        self.provider.local_executor(local).await
    }
}
