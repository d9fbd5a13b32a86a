//! [`LocalProviderBuilder`] and [`Isolation`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use agentbox_core::progress::Progress;
use agentbox_core::secrets::{EnvSecrets, SecretSource};
use agentbox_core::{Error, Result};

use crate::error::BACKEND;
use crate::provider::LocalProvider;
use crate::sandbox::{host_root_entries, sandbox_path_problem};

/// How commands are isolated from the host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Isolation {
    /// The safest isolation available; today that is bubblewrap. Creating a workspace or
    /// running a command is refused when bubblewrap is missing or does not work.
    #[default]
    Auto,
    /// Always bubblewrap; refused when it is missing or does not work.
    Bubblewrap,
    /// No isolation at all: commands run as the host user, with the host's files and network.
    /// An explicit opt-in, reported as a warning on every workspace.
    None,
}

/// Builds a [`LocalProvider`].
#[derive(Debug, Default)]
pub struct LocalProviderBuilder {
    root: Option<PathBuf>,
    isolation: Isolation,
    bwrap: Option<PathBuf>,
    secrets: Option<Arc<dyn SecretSource>>,
    progress: Progress,
    binds: Vec<(PathBuf, String)>,
}

impl LocalProviderBuilder {
    /// Keep workspaces under `root` (default: `$XDG_STATE_HOME/agentbox/workspaces`, else
    /// `~/.local/state/agentbox/workspaces`, else the temporary directory).
    pub fn root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = Some(root.into());
        self
    }

    /// How to isolate commands (default [`Isolation::Auto`]).
    pub fn isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = isolation;
        self
    }

    /// Run bubblewrap from this path (default: `bwrap` from `PATH`).
    pub fn bwrap_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.bwrap = Some(path.into());
        self
    }

    /// Resolve the contract's secrets from `source` (default [`EnvSecrets`]).
    pub fn secrets(mut self, source: Arc<dyn SecretSource>) -> Self {
        self.secrets = Some(source);
        self
    }

    /// Report progress to `progress` (default: nowhere).
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    /// Bind the existing host directory `host_path` read-write at the absolute path
    /// `sandbox_path` in the sandbox of every workspace of this provider: for test remotes and
    /// caches shared between workspaces. Every workspace can read and change what is there.
    /// [`build`](Self::build) refuses a bind without a sandbox ([`Isolation::None`]), a host
    /// path that is not a directory or overlaps the workspace root, and a sandbox path the
    /// sandbox cannot mount; creating a workspace refuses one inside its storage mount.
    pub fn bind(mut self, host_path: impl Into<PathBuf>, sandbox_path: impl Into<String>) -> Self {
        self.binds.push((host_path.into(), sandbox_path.into()));
        self
    }

    /// Create the root directory if needed and build the provider.
    pub fn build(self) -> Result<LocalProvider> {
        let root = self.root.unwrap_or_else(default_root);
        std::fs::create_dir_all(&root).map_err(|source| Error::Io {
            action: "create the workspace root",
            path: root.clone(),
            source,
        })?;
        let root = std::fs::canonicalize(&root).map_err(|source| Error::Io {
            action: "resolve the workspace root",
            path: root.clone(),
            source,
        })?;
        let binds = self
            .binds
            .into_iter()
            .map(|(host, target)| check_bind(self.isolation, &root, host, target))
            .collect::<Result<Vec<_>>>()?;
        Ok(LocalProvider::new(
            root,
            self.isolation,
            self.bwrap.unwrap_or_else(|| PathBuf::from("bwrap")),
            self.secrets.unwrap_or_else(|| Arc::new(EnvSecrets)),
            self.progress,
            binds,
        ))
    }
}

/// The bind of `host` at `target`, with `host` resolved, or why it cannot be made.
fn check_bind(
    isolation: Isolation,
    root: &Path,
    host: PathBuf,
    target: String,
) -> Result<(PathBuf, String)> {
    let refuse = |why: String| Error::Refused {
        backend: BACKEND,
        message: format!("cannot bind {} at {target}: {why}", host.display()),
    };
    if isolation == Isolation::None {
        return Err(refuse(
            "binds need the sandbox, and Isolation::None has none; use the host path directly"
                .to_owned(),
        ));
    }
    let resolved = std::fs::canonicalize(&host)
        .map_err(|e| refuse(format!("{e}; bind an existing directory")))?;
    if !resolved.is_dir() {
        return Err(refuse("it is not a directory".to_owned()));
    }
    if resolved.starts_with(root) || root.starts_with(&resolved) {
        return Err(refuse(format!(
            "it overlaps the workspace root {}, which workspaces must not see",
            root.display()
        )));
    }
    let entries = host_root_entries().map_err(|source| Error::Io {
        action: "list the host's root directory",
        path: PathBuf::from("/"),
        source,
    })?;
    if let Some(problem) = sandbox_path_problem(&target, &entries) {
        return Err(refuse(problem));
    }
    Ok((resolved, target))
}

/// `$XDG_STATE_HOME/agentbox/workspaces`, else `~/.local/state/agentbox/workspaces`, else
/// under the temporary directory.
fn default_root() -> PathBuf {
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let state = absolute("XDG_STATE_HOME")
        .or_else(|| absolute("HOME").map(|home| home.join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    state.join("agentbox").join("workspaces")
}
