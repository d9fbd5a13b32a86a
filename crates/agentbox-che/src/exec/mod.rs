//! [`KubeExecutor`]: commands, files and sessions in one container of a pod, over the
//! `pods/exec` subresource. Nothing here is Che-specific: any backend whose workspaces are pods
//! can use it.
//!
//! Every command runs under a constant wrapper script (`scripts.rs`) that takes its argv as
//! positional arguments and its environment and stdin through the exec's stdin, puts it in a
//! session of its own, tags its process tree and announces its pid. A kubelet does not kill a
//! process when the exec connection closes, so the wrapper keeps the exec's stdin as a control
//! channel: a `kill` line on timeout (or when the caller drops the stream), or the end of stdin
//! when the connection is lost, kills the command's whole tree from inside the container; a
//! second exec kills it if that channel is blocked. Files move as tar streams over stdin and
//! stdout (`files.rs`, `tarstream.rs`); sessions keep one shell on one exec stream
//! (`session.rs`).

mod files;
mod process;
mod scripts;
mod session;
mod stream;
mod tarstream;

pub use session::KubeSession;

use std::fmt;
use std::sync::Arc;

use agentbox_core::exec::{
    ExecRequest, ExecStream, FileReader, FileSource, FileWritten, OutputStreams, Session, path,
};
use agentbox_core::progress::Progress;
use agentbox_core::{Error, Executor, Result};
use async_trait::async_trait;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;

use crate::api::RetryPolicy;
use crate::error::{BACKEND, CheError, invalid_state};
use process::Container;

/// A check run before every command and file operation; an error stops it (e.g. "the
/// workspace was stopped"), so a stale executor fails with a typed error instead of reaching
/// a pod that is going away.
pub type Guard = Arc<dyn Fn() -> Result<()> + Send + Sync>;

/// Commands and files in one container of a pod, over `pods/exec`.
///
/// ```no_run
/// # async fn demo(client: kube::Client) -> agentbox_core::Result<()> {
/// use agentbox_che::KubeExecutor;
/// use agentbox_core::exec::{ExecRequest, ExecutorExt};
///
/// let exec = KubeExecutor::new(client, "team-a", "workspace1a2b3c-7f9c", "tools", "/projects/app", "/projects");
/// let out = exec.exec_ok(ExecRequest::new(["git", "status"])).await?;
/// println!("{}", out.stdout_text());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct KubeExecutor {
    container: Container,
    workspace: String,
    workdir: String,
    root: String,
    progress: Progress,
    guard: Option<Guard>,
}

impl fmt::Debug for KubeExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeExecutor")
            .field("workspace", &self.workspace)
            .field("namespace", &self.container.namespace)
            .field("pod", &self.container.pod)
            .field("container", &self.container.name)
            .field("workdir", &self.workdir)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl KubeExecutor {
    /// An executor for `container` of `pod` in `namespace`: relative paths start at `workdir`,
    /// and no file outside `root` (the workspace's storage mount) is read or written.
    pub fn new(
        client: kube::Client,
        namespace: &str,
        pod: &str,
        container: &str,
        workdir: &str,
        root: &str,
    ) -> Self {
        Self {
            container: Container {
                pods: Api::<Pod>::namespaced(client, namespace),
                namespace: namespace.to_owned(),
                pod: pod.to_owned(),
                name: container.to_owned(),
                policy: RetryPolicy::default(),
            },
            workspace: pod.to_owned(),
            workdir: workdir.to_owned(),
            root: root.to_owned(),
            progress: Progress::none(),
            guard: None,
        }
    }

    /// Name the workspace in errors and events (the pod's name unless set).
    pub fn workspace_name(mut self, name: impl Into<String>) -> Self {
        self.workspace = name.into();
        self
    }

    /// Report command and transfer events here.
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    /// Bound and retry API calls (connecting an exec, killing a command) this way.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.container.policy = policy;
        self
    }

    /// Run `guard` before every operation.
    pub fn guard(mut self, guard: Guard) -> Self {
        self.guard = Some(guard);
        self
    }

    /// The pod commands run in.
    pub fn pod(&self) -> &str {
        &self.container.pod
    }

    /// The container commands run in.
    pub fn container(&self) -> &str {
        &self.container.name
    }

    /// Where relative paths start.
    pub fn workdir(&self) -> &str {
        &self.workdir
    }

    /// The directory no file operation leaves.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// Create the workdir (and its parents) if it does not exist yet: a workspace without a
    /// cloned project has none, and commands start there.
    pub async fn ensure_workdir(&self) -> Result<()> {
        let request =
            ExecRequest::new(["mkdir", "-p", "--", self.workdir.as_str()]).cwd(self.root.clone());
        let out = self.exec(request).await?;
        if out.exit.success() {
            Ok(())
        } else {
            Err(self.backend_error(format!(
                "cannot create the workdir {}: {}: {}",
                self.workdir,
                out.exit,
                out.stderr_text().trim()
            )))
        }
    }

    fn check(&self) -> Result<()> {
        match &self.guard {
            Some(guard) => guard(),
            None => Ok(()),
        }
    }

    /// `input` resolved against the workdir, refused outside the root.
    fn resolve(&self, input: &str) -> Result<String> {
        path::resolve(&self.workspace, &self.root, &self.workdir, input)
    }

    /// The core error for a failure to start a process: a pod that no longer exists means the
    /// workspace is not running.
    fn spawn_error(&self, error: CheError) -> Error {
        if error.is_not_found() {
            return invalid_state(
                &self.workspace,
                format!(
                    "not running (pod `{}` no longer exists)",
                    self.container.pod
                ),
                "run commands",
            );
        }
        error.into_core(&self.workspace)
    }

    fn backend_error(&self, message: String) -> Error {
        Error::Backend {
            backend: BACKEND,
            message: format!("workspace `{}`: {message}", self.workspace),
            source: None,
        }
    }
}

#[async_trait]
impl Executor for KubeExecutor {
    fn workspace(&self) -> &str {
        &self.workspace
    }

    fn output_streams(&self) -> OutputStreams {
        OutputStreams::Separate
    }

    async fn exec_stream(&self, request: ExecRequest) -> Result<ExecStream> {
        self.check()?;
        stream::start(self, request).await
    }

    async fn write_file(&self, path: &str, content: FileSource) -> Result<FileWritten> {
        self.check()?;
        let absolute = self.resolve(path)?;
        files::write(self, path, absolute, content).await
    }

    async fn read_file(&self, path: &str) -> Result<FileReader> {
        self.check()?;
        let absolute = self.resolve(path)?;
        files::read(self, path, absolute).await
    }

    async fn session(&self) -> Result<Box<dyn Session>> {
        self.check()?;
        Ok(Box::new(KubeSession::start(self).await?))
    }
}
