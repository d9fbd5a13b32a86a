//! What an executor knows about its workspace, and how it turns a command into a [`Launch`]:
//! the environment policy, path mapping and the sandbox.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use agentbox_core::exec::path::{relative_to, resolve};
use agentbox_core::progress::Progress;
use agentbox_core::{Error, Result};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::{backend, invalid_state};
use crate::files::{FileError, FilesRoot};
use crate::process::Launch;
use crate::sandbox::{DEFAULT_PATH, SANDBOX_HOME, SandboxSpec};

/// One running period of a workspace, from `start` to `stop`: cancelling the token kills every
/// command and session started in it; the tracker tells when they are all gone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Epoch {
    /// Cancelled when the workspace stops or is deleted.
    pub token: CancellationToken,
    /// Tracks every supervised process tree.
    pub tasks: TaskTracker,
}

impl Epoch {
    /// Kill everything started in this epoch and wait until it is reaped.
    pub async fn end(&self) {
        self.tasks.close();
        self.token.cancel();
        self.tasks.wait().await;
    }
}

/// An environment variable's value.
enum EnvValue<'a> {
    Plain(&'a str),
    Secret(&'a SecretString),
}

/// Everything an executor of one workspace needs.
pub(crate) struct ExecContext {
    /// Workspace id.
    pub workspace: String,
    /// Where `files/` appears (`/projects`).
    pub mount_path: String,
    /// The default working directory.
    pub workdir: String,
    /// The workspace's `files/`.
    pub files: FilesRoot,
    /// HOME for unisolated commands.
    pub host_home: PathBuf,
    /// bubblewrap and the sandbox, or `None` when unisolated.
    pub sandbox: Option<(PathBuf, SandboxSpec)>,
    /// The contract's plain environment variables.
    pub env: Vec<(String, String)>,
    /// The contract's secrets, resolved.
    pub secrets: Vec<(String, SecretString)>,
    /// Address-space limit in bytes.
    pub memory_limit: Option<u64>,
    /// The running period this executor belongs to.
    pub epoch: Epoch,
    /// Progress events.
    pub progress: Progress,
}

impl fmt::Debug for ExecContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecContext")
            .field("workspace", &self.workspace)
            .field("workdir", &self.workdir)
            .field("files", &self.files.path())
            .field("sandboxed", &self.sandbox.is_some())
            .field("env", &self.env)
            .field(
                "secrets",
                &self.secrets.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl ExecContext {
    /// Fail unless the workspace is still in the epoch this executor was made in.
    pub fn ensure_live(&self, operation: &'static str) -> Result<()> {
        if self.epoch.token.is_cancelled() {
            Err(invalid_state(
                &self.workspace,
                "stopped or deleted",
                operation,
            ))
        } else {
            Ok(())
        }
    }

    /// Whether commands run in a sandbox.
    pub fn sandboxed(&self) -> bool {
        self.sandbox.is_some()
    }

    /// Resolve a path given by a caller to an absolute workspace path and its part below the
    /// mount path.
    pub fn resolve(&self, input: &str) -> Result<(String, String)> {
        let absolute = resolve(&self.workspace, &self.mount_path, &self.workdir, input)?;
        let rel = relative_to(&self.mount_path, &absolute)
            .map(str::to_owned)
            .ok_or_else(|| self.escapes(input))?;
        Ok((absolute, rel))
    }

    /// [`Error::PathEscapes`] for `path`.
    pub fn escapes(&self, path: &str) -> Error {
        Error::PathEscapes {
            workspace: self.workspace.clone(),
            path: path.to_owned(),
            root: self.mount_path.clone(),
        }
    }

    /// The launch of `argv` in `cwd` (absolute or relative to the workdir; the workdir when
    /// `None`) with the environment policy applied: PATH and HOME, then the contract's
    /// variables and secrets, then the request's.
    pub fn launch(
        &self,
        argv: &[String],
        cwd: Option<&str>,
        env: &BTreeMap<String, String>,
        secret_env: &BTreeMap<String, SecretString>,
        piped_stdin: bool,
    ) -> Result<Launch> {
        self.ensure_live("run commands")?;
        let Some(program) = argv.first() else {
            return Err(backend(format!(
                "an empty argv was given for workspace `{}`; pass at least the program to run",
                self.workspace
            )));
        };
        let cwd_input = cwd.unwrap_or(&self.workdir);
        let (cwd_abs, cwd_rel) = self.resolve(cwd_input)?;
        match self.files.open_dir(&cwd_rel) {
            Ok(_) => {}
            Err(FileError::Escapes) => return Err(self.escapes(cwd_input)),
            Err(_) => {
                return Err(backend(format!(
                    "working directory `{cwd_abs}` does not exist in workspace `{}`; create it first or run elsewhere",
                    self.workspace
                )));
            }
        }

        let host_home = self.host_home.to_string_lossy();
        let home = if self.sandboxed() {
            SANDBOX_HOME
        } else {
            &host_home
        };
        let mut vars: BTreeMap<&str, EnvValue<'_>> = BTreeMap::new();
        vars.insert("PATH", EnvValue::Plain(DEFAULT_PATH));
        vars.insert("HOME", EnvValue::Plain(home));
        vars.extend(
            self.env
                .iter()
                .map(|(k, v)| (k.as_str(), EnvValue::Plain(v))),
        );
        vars.extend(
            self.secrets
                .iter()
                .map(|(k, v)| (k.as_str(), EnvValue::Secret(v))),
        );
        vars.extend(env.iter().map(|(k, v)| (k.as_str(), EnvValue::Plain(v))));
        vars.extend(
            secret_env
                .iter()
                .map(|(k, v)| (k.as_str(), EnvValue::Secret(v))),
        );
        let mut plain = Vec::new();
        let mut secret = Vec::new();
        for (key, value) in vars {
            match value {
                EnvValue::Plain(v) => plain.push((key.to_owned(), v.to_owned())),
                EnvValue::Secret(v) => secret.push((key.to_owned(), v.clone())),
            }
        }

        let (program, args, host_cwd) = match &self.sandbox {
            Some((bwrap, spec)) => (
                bwrap.clone().into_os_string(),
                spec.bwrap_args(&cwd_abs, argv),
                None,
            ),
            None => (
                program.into(),
                argv[1..].iter().map(Into::into).collect(),
                Some(self.files.path().join(&cwd_rel)),
            ),
        };
        Ok(Launch {
            program,
            args,
            env: plain,
            secret_env: secret,
            cwd: host_cwd,
            memory_limit: self.memory_limit,
            piped_stdin,
        })
    }
}
