//! Preparing workspaces: laying out a new one, and the context its executors run in.

use std::path::PathBuf;

use agentbox_core::contract::ContractDocument;
use agentbox_core::exec::path::relative_to;
use agentbox_core::provider::{CreateRequest, Phase, WorkspaceId, WorkspaceInfo, workspace_labels};
use agentbox_core::{Contract, Error, Result};
use secrecy::SecretString;

use super::LocalProvider;
use crate::context::{Epoch, ExecContext};
use crate::error::{BACKEND, LocalError, backend};
use crate::files::FilesRoot;
use crate::project::clone_project;
use crate::sandbox::{
    SandboxSpec, host_root_entries, mount_path_problem, resolv_conf_under_run,
    writable_path_problem,
};
use crate::state::{WorkspaceDir, WorkspaceRecord};

impl LocalProvider {
    pub(super) async fn resolve_secrets(
        &self,
        workspace: &str,
        doc: &ContractDocument,
    ) -> Result<Vec<(String, SecretString)>> {
        let mut resolved = Vec::with_capacity(doc.spec.secrets.len());
        for secret in &doc.spec.secrets {
            match self.inner.secrets.resolve(&secret.from).await? {
                Some(value) => resolved.push((secret.env.to_string(), value)),
                None => {
                    return Err(Error::SecretMissing {
                        workspace: workspace.to_owned(),
                        env: secret.env.to_string(),
                        secret: secret.from.secret.to_string(),
                        key: secret.from.key.clone(),
                        hint: self.inner.secrets.describe(&secret.from),
                    });
                }
            }
        }
        Ok(resolved)
    }

    /// Writable paths the sandbox can provide, and why each other one cannot be.
    fn writable_paths(
        &self,
        dir: &WorkspaceDir,
        record: &WorkspaceRecord,
    ) -> (Vec<(PathBuf, String)>, Vec<String>) {
        let entries = host_root_entries().unwrap_or_default();
        let targets = record
            .contract
            .spec
            .isolation
            .iter()
            .flat_map(|i| &i.writable_paths);
        let mut usable = Vec::new();
        let mut problems = Vec::new();
        for target in targets {
            match writable_path_problem(target, &entries, &record.mount_path) {
                None => usable.push((dir.writable(target), target.clone())),
                Some(problem) => problems.push(format!("{problem}; it is skipped")),
            }
        }
        (usable, problems)
    }

    /// Lay out a new workspace's directories and files; the record comes last.
    pub(super) async fn populate(
        &self,
        dir: &WorkspaceDir,
        contract: &Contract,
        request: &CreateRequest,
        name: &str,
    ) -> Result<WorkspaceInfo> {
        let mount_path = contract.mount_path().to_owned();
        let workdir = contract.workdir();
        let io = |action: &'static str, path: PathBuf| {
            move |e| LocalError::io(action, path, e).into_core(name)
        };
        let files = dir.files();
        std::fs::create_dir(&files).map_err(io("create the files directory", files.clone()))?;
        std::fs::create_dir(dir.home()).map_err(io("create the home directory", dir.home()))?;
        let record_stub = WorkspaceRecord::new(
            WorkspaceInfo {
                id: WorkspaceId(name.to_owned()),
                name: name.to_owned(),
                backend: BACKEND.to_owned(),
                phase: Phase::Pending,
                message: None,
                labels: workspace_labels(contract, request),
                contract_hash: contract.hash().to_owned(),
                created_at: chrono::Utc::now(),
            },
            mount_path.clone(),
            workdir.clone(),
            contract.document().clone(),
        );
        if self.sandboxed() {
            for (host, target) in &self.inner.binds {
                if let Some(problem) = mount_path_problem(target, &mount_path) {
                    return Err(Error::Refused {
                        backend: BACKEND,
                        message: format!(
                            "workspace `{name}`: cannot bind {} at {target}: {problem}; bind it elsewhere",
                            host.display()
                        ),
                    });
                }
            }
            let (usable, problems) = self.writable_paths(dir, &record_stub);
            for (host, _) in usable {
                std::fs::create_dir_all(&host)
                    .map_err(io("create a writable directory", host.clone()))?;
            }
            for problem in problems {
                self.warn(name, problem);
            }
        }
        let Some(rel) = relative_to(&mount_path, &workdir) else {
            return Err(backend(format!(
                "workspace `{name}`: workdir {workdir} is not under the storage mount {mount_path}; fix the contract"
            )));
        };
        let target = files.join(rel);
        match &request.project {
            Some(project) => {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(io("create the workdir's parent", parent.to_path_buf()))?;
                }
                tracing::info!(url = %project.url, "cloning the project");
                clone_project(project, &target)
                    .await
                    .map_err(|e| e.into_core(name))?;
            }
            None => std::fs::create_dir_all(&target)
                .map_err(io("create the workdir", target.clone()))?,
        }
        dir.write_record(&record_stub)
            .map_err(|e| e.into_core(name))?;
        Ok(record_stub.info)
    }

    pub(super) fn exec_context(
        &self,
        dir: &WorkspaceDir,
        record: &WorkspaceRecord,
        epoch: Epoch,
        secrets: Vec<(String, SecretString)>,
    ) -> Result<ExecContext> {
        let id = record.info.id.as_str();
        let spec = &record.contract.spec;
        let sandbox = if self.sandboxed() {
            let root_entries = host_root_entries().map_err(|e| {
                LocalError::io("list the host's root directory", "/", e).into_core(id)
            })?;
            let (writable, _) = self.writable_paths(dir, record);
            let share_net = spec.network.as_ref().is_some_and(|n| n.egress.allows_any());
            Some((
                self.inner.bwrap.clone(),
                SandboxSpec {
                    root_entries,
                    hide: vec![self.inner.root.clone()],
                    files: dir.files(),
                    mount_path: record.mount_path.clone(),
                    writable,
                    binds: self.inner.binds.clone(),
                    share_net,
                    resolv_conf: resolv_conf_under_run(),
                    hostname: id.to_owned(),
                },
            ))
        } else {
            None
        };
        Ok(ExecContext {
            workspace: id.to_owned(),
            mount_path: record.mount_path.clone(),
            workdir: record.workdir.clone(),
            files: FilesRoot::new(dir.files()),
            host_home: dir.home(),
            sandbox,
            env: spec
                .env
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            secrets,
            // Saturating: a limit beyond u64 bytes is no limit.
            memory_limit: spec
                .resources
                .memory
                .as_ref()
                .and_then(|m| m.limit.as_ref())
                .map(|q| q.value() as u64),
            epoch,
            progress: self.inner.progress.clone(),
        })
    }
}
