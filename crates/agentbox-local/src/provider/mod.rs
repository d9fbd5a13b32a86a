//! [`LocalProvider`]: workspaces as directories under a root, their lifecycle and executors.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use agentbox_core::contract::DnsLabel;
use agentbox_core::progress::{Progress, ProgressEvent};
use agentbox_core::provider::{
    Capabilities, CreateRequest, LabelSelector, Phase, WorkspaceId, WorkspaceInfo,
    default_workspace_name,
};
use agentbox_core::secrets::SecretSource;
use agentbox_core::{Contract, Error, Executor, Result, WorkspaceProvider};
use async_trait::async_trait;
use tokio::sync::{OnceCell, watch};
use tracing::Instrument;

mod hooks;
mod prepare;

use crate::builder::{Isolation, LocalProviderBuilder};
use crate::context::Epoch;
use crate::error::{BACKEND, LocalError, invalid_state, not_found};
use crate::executor::LocalExecutor;
use crate::limitations::limitations;
use crate::sandbox::probe;
use crate::state::{WorkspaceDir, WorkspaceRecord};

/// Workspaces as directories on this host, commands in bubblewrap.
///
/// Clones share state: stopping a workspace through one clone kills the commands started
/// through another. Keep one provider (and its clones) per root in a process; a second
/// provider over the same root sees the same workspaces but not the other's running commands.
#[derive(Clone)]
pub struct LocalProvider {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    isolation: Isolation,
    bwrap: PathBuf,
    secrets: Arc<dyn SecretSource>,
    progress: Progress,
    /// Host directories bound into every sandbox: host path, sandbox path.
    binds: Vec<(PathBuf, String)>,
    probe: OnceCell<Result<(), String>>,
    runtimes: Mutex<HashMap<String, Arc<Runtime>>>,
}

/// What this process knows about a workspace beyond its record.
#[derive(Debug)]
struct Runtime {
    /// The phase, pushed to `wait_ready`; `None` once deleted.
    phase: watch::Sender<Option<Phase>>,
    /// The current running period.
    epoch: Mutex<Epoch>,
    /// Serialises changes to the record.
    lock: tokio::sync::Mutex<()>,
}

impl Runtime {
    fn epoch(&self) -> Epoch {
        self.epoch
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// End the current running period and begin a new one.
    async fn end_epoch(&self) {
        let old = std::mem::take(&mut *self.epoch.lock().unwrap_or_else(PoisonError::into_inner));
        old.end().await;
    }
}

impl fmt::Debug for LocalProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalProvider")
            .field("root", &self.inner.root)
            .field("isolation", &self.inner.isolation)
            .field("bwrap", &self.inner.bwrap)
            .field("secrets", &self.inner.secrets)
            .field("binds", &self.inner.binds)
            .finish_non_exhaustive()
    }
}

impl LocalProvider {
    /// The concrete executor of a running workspace: what [`WorkspaceProvider::executor`]
    /// returns, with [`LocalExecutor::command`] for callers that drive processes themselves.
    pub async fn local_executor(&self, id: &WorkspaceId) -> Result<LocalExecutor> {
        let id = id.as_str();
        let (dir, record) = self.load(id)?;
        if record.info.phase != Phase::Running {
            return Err(invalid_state(id, record.info.phase, "run commands"));
        }
        self.check_isolation().await?;
        let secrets = self.resolve_secrets(id, &record.contract).await?;
        let epoch = self.runtime(id, record.info.phase).epoch();
        let context = self.exec_context(&dir, &record, epoch, secrets)?;
        Ok(LocalExecutor::new(context))
    }

    /// A builder with the defaults: bubblewrap isolation, secrets from the environment.
    pub fn builder() -> LocalProviderBuilder {
        LocalProviderBuilder::default()
    }

    pub(crate) fn new(
        root: PathBuf,
        isolation: Isolation,
        bwrap: PathBuf,
        secrets: Arc<dyn SecretSource>,
        progress: Progress,
        binds: Vec<(PathBuf, String)>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                root,
                isolation,
                bwrap,
                secrets,
                progress,
                binds,
                probe: OnceCell::new(),
                runtimes: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The directory holding the workspaces.
    pub fn root(&self) -> &std::path::Path {
        &self.inner.root
    }

    /// Everything `contract` asks that this provider cannot enforce; [`WorkspaceProvider::create`]
    /// reports each as a [`ProgressEvent::Warning`].
    pub fn limitations(&self, contract: &Contract) -> Vec<String> {
        limitations(contract.document(), self.sandboxed())
    }

    fn sandboxed(&self) -> bool {
        self.inner.isolation != Isolation::None
    }

    /// Refuse unless the chosen isolation is available.
    async fn check_isolation(&self) -> Result<()> {
        if !self.sandboxed() {
            return Ok(());
        }
        let probed = self
            .inner
            .probe
            .get_or_init(|| probe(&self.inner.bwrap))
            .await;
        probed.clone().map_err(|why| Error::Refused {
            backend: BACKEND,
            message: format!(
                "{why}; install bubblewrap (apt-get install bubblewrap) or opt in to running without isolation with Isolation::None"
            ),
        })
    }

    /// The directory of workspace `id`, when `id` can name one.
    fn dir(&self, id: &str) -> Option<WorkspaceDir> {
        id.parse::<DnsLabel>()
            .ok()
            .map(|_| WorkspaceDir::new(&self.inner.root, id))
    }

    fn load(&self, id: &str) -> Result<(WorkspaceDir, WorkspaceRecord)> {
        let dir = self
            .dir(id)
            .filter(WorkspaceDir::has_record)
            .ok_or_else(|| not_found(id))?;
        let record = dir.read_record().map_err(|e| e.into_core(id))?;
        Ok((dir, record))
    }

    /// This process's runtime state of `id`; `phase` (read from the record) starts it when this
    /// process has none yet. Afterwards only transitions in this process change it.
    fn runtime(&self, id: &str, phase: Phase) -> Arc<Runtime> {
        let mut runtimes = self
            .inner
            .runtimes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let runtime = runtimes.entry(id.to_owned()).or_insert_with(|| {
            Arc::new(Runtime {
                phase: watch::Sender::new(Some(phase)),
                epoch: Mutex::new(Epoch::default()),
                lock: tokio::sync::Mutex::new(()),
            })
        });
        Arc::clone(runtime)
    }

    fn emit_phase(&self, id: &str, phase: Option<Phase>, message: Option<String>) {
        self.inner.progress.emit(ProgressEvent::Workspace {
            backend: BACKEND,
            workspace: id.to_owned(),
            phase,
            message,
        });
    }

    fn warn(&self, id: &str, message: String) {
        tracing::warn!(workspace = id, "{message}");
        self.inner.progress.emit(ProgressEvent::Warning {
            backend: BACKEND,
            workspace: Some(id.to_owned()),
            message,
        });
    }

    /// Move `id` from its current phase to `to`, when `allowed` says so.
    async fn transition(
        &self,
        id: &str,
        operation: &'static str,
        to: Phase,
        allowed: fn(Phase) -> bool,
    ) -> Result<()> {
        let (_, record) = self.load(id)?;
        let runtime = self.runtime(id, record.info.phase);
        let _guard = runtime.lock.lock().await;
        let (dir, mut record) = self.load(id)?;
        let from = record.info.phase;
        if from == to {
            return Ok(());
        }
        if !allowed(from) {
            return Err(invalid_state(id, from, operation));
        }
        if to == Phase::Running {
            self.check_isolation().await?;
        } else {
            runtime.end_epoch().await;
        }
        record.info.phase = to;
        record.info.message = None;
        dir.write_record(&record).map_err(|e| e.into_core(id))?;
        runtime.phase.send_replace(Some(to));
        self.emit_phase(id, Some(to), None);
        Ok(())
    }
}

impl LocalProvider {
    /// Mark the workspace failed with `message`; its commands are killed.
    async fn fail(&self, id: &str, message: String) -> Result<()> {
        let (_, record) = self.load(id)?;
        let runtime = self.runtime(id, record.info.phase);
        let _guard = runtime.lock.lock().await;
        runtime.end_epoch().await;
        let (dir, mut record) = self.load(id)?;
        record.info.phase = Phase::Failed;
        record.info.message = Some(message.clone());
        dir.write_record(&record).map_err(|e| e.into_core(id))?;
        runtime.phase.send_replace(Some(Phase::Failed));
        self.emit_phase(id, Some(Phase::Failed), Some(message));
        Ok(())
    }

    /// Remember that `postCreate` has run, so later starts skip it.
    async fn mark_post_create_done(&self, id: &str) -> Result<()> {
        let (_, record) = self.load(id)?;
        if record.post_create_done {
            return Ok(());
        }
        let runtime = self.runtime(id, record.info.phase);
        let _guard = runtime.lock.lock().await;
        let (dir, mut record) = self.load(id)?;
        record.post_create_done = true;
        dir.write_record(&record).map_err(|e| e.into_core(id))
    }
}

fn span(id: &str) -> tracing::Span {
    tracing::info_span!("workspace", backend = BACKEND, workspace = %id)
}

#[async_trait]
impl WorkspaceProvider for LocalProvider {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            separate_streams: true,
            persistent_session: true,
            suspend_keeps_storage: true,
            watch: true,
            isolated: self.sandboxed(),
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
            self.check_isolation().await?;
            // Resolved now so a missing secret fails before anything exists; values are
            // resolved again for each executor and never stored.
            self.resolve_secrets(&name, contract.document()).await?;
            let root = &self.inner.root;
            std::fs::create_dir_all(root).map_err(|e| LocalError::io("create the workspace root", root, e).into_core(&name))?;
            let dir = WorkspaceDir::new(root, &name);
            match std::fs::create_dir(dir.path()) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(Error::AlreadyExists {
                        backend: BACKEND,
                        workspace: name.clone(),
                    });
                }
                Err(e) => return Err(LocalError::io("create the workspace directory", dir.path(), e).into_core(&name)),
            }
            let info = match self.populate(&dir, contract, &request, &name).await {
                Ok(info) => info,
                Err(e) => {
                    if let Err(cleanup) = dir.remove() {
                        tracing::warn!(error = %cleanup, "could not remove a half-created workspace");
                    }
                    return Err(e);
                }
            };
            for limitation in self.limitations(contract) {
                self.warn(&name, limitation);
            }
            self.runtime(&name, Phase::Pending);
            self.emit_phase(&name, Some(Phase::Pending), None);
            tracing::info!("workspace created");
            Ok(info)
        }
        .instrument(span(&name))
        .await
    }

    /// Start the workspace: its lifecycle commands run (see `hooks.rs`) and it is running only
    /// once they succeeded. Starting a failed workspace retries it.
    async fn start(&self, id: &WorkspaceId) -> Result<()> {
        self.start_with_hooks(id.as_str())
            .instrument(span(id.as_str()))
            .await
    }

    async fn stop(&self, id: &WorkspaceId) -> Result<()> {
        let allowed = |from| from != Phase::Terminating;
        async {
            self.run_pre_stop(id.as_str()).await?;
            self.transition(id.as_str(), "stop", Phase::Stopped, allowed)
                .await
        }
        .instrument(span(id.as_str()))
        .await
    }

    async fn delete(&self, id: &WorkspaceId) -> Result<()> {
        let id = id.as_str();
        let Some(dir) = self.dir(id) else {
            return Ok(());
        };
        async {
            if !dir.path().exists() {
                return Ok(());
            }
            let phase = dir
                .read_record()
                .map(|r| r.info.phase)
                .unwrap_or(Phase::Terminating);
            let runtime = self.runtime(id, phase);
            let _guard = runtime.lock.lock().await;
            if let Ok(mut record) = dir.read_record() {
                record.info.phase = Phase::Terminating;
                dir.write_record(&record).map_err(|e| e.into_core(id))?;
            }
            runtime.phase.send_replace(Some(Phase::Terminating));
            runtime.end_epoch().await;
            dir.remove().map_err(|e| e.into_core(id))?;
            runtime.phase.send_replace(None);
            self.inner
                .runtimes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(id);
            self.emit_phase(id, None, None);
            tracing::info!("workspace deleted");
            Ok(())
        }
        .instrument(span(id))
        .await
    }

    async fn status(&self, id: &WorkspaceId) -> Result<WorkspaceInfo> {
        Ok(self.load(id.as_str())?.1.info)
    }

    async fn list(&self, selector: &LabelSelector) -> Result<Vec<WorkspaceInfo>> {
        let root = &self.inner.root;
        let entries = match std::fs::read_dir(root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(LocalError::io("list workspaces in", root, e).into_core("*")),
        };
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let Some(dir) = self.dir(&name).filter(WorkspaceDir::has_record) else {
                continue;
            };
            match dir.read_record() {
                Ok(record) if selector.matches(&record.info.labels) => found.push(record.info),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(workspace = %name, error = %e, "skipping an unreadable workspace")
                }
            }
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    async fn wait_ready(&self, id: &WorkspaceId, timeout: Duration) -> Result<WorkspaceInfo> {
        let deadline = tokio::time::Instant::now() + timeout;
        let id = id.as_str();
        let (_, record) = self.load(id)?;
        let mut phases = self.runtime(id, record.info.phase).phase.subscribe();
        // The record is the truth (another process may have started the workspace); the
        // channel then pushes this process's changes.
        if record.info.phase == Phase::Running {
            return Ok(record.info);
        }
        loop {
            let phase = *phases.borrow_and_update();
            match phase {
                None => return Err(not_found(id)),
                Some(Phase::Running) => return Ok(self.load(id)?.1.info),
                Some(Phase::Failed) => {
                    let message = self
                        .load(id)?
                        .1
                        .info
                        .message
                        .unwrap_or_else(|| "no reason recorded".into());
                    return Err(Error::WorkspaceFailed {
                        backend: BACKEND,
                        workspace: id.to_owned(),
                        message,
                    });
                }
                Some(_) => {}
            }
            match tokio::time::timeout_at(deadline, phases.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(not_found(id)),
                Err(_) => {
                    return Err(Error::Timeout {
                        backend: BACKEND,
                        workspace: id.to_owned(),
                        what: format!(
                            "waiting to be running (it is {})",
                            phase.map_or("gone".into(), |p| p.to_string())
                        ),
                        after: timeout,
                    });
                }
            }
        }
    }

    async fn executor(&self, id: &WorkspaceId) -> Result<Arc<dyn Executor>> {
        Ok(Arc::new(self.local_executor(id).await?))
    }
}
